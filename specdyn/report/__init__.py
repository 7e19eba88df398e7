"""The interactive report: ``specdyn report RUN_OR_SWEEP...`` writes one HTML file.

sources  which runs a report shows (run folders, sweeps, folders of runs)
collect  a run as compact JSON-ready data, read through the Run API
groups   runs that differ only by seed, and group labels
page     the self-contained HTML page (Plotly inlined once) and its atomic write
static/  the page's template and its small JavaScript (figures built on selection)
"""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.report.inputs import open_runs, run_folders
    from specdyn.report.page import check_out, plotly_js, render, report_data, write_report

__getattr__ = lazy_exports(
    __name__,
    {
        "check_out": "specdyn.report.page",
        "plotly_js": "specdyn.report.page",
        "render": "specdyn.report.page",
        "report_data": "specdyn.report.page",
        "write_report": "specdyn.report.page",
        "open_runs": "specdyn.report.inputs",
        "run_folders": "specdyn.report.inputs",
    },
)

__all__ = [
    "check_out",
    "open_runs",
    "plotly_js",
    "render",
    "report_data",
    "run_folders",
    "write_report",
]
