"""Sweeps: many runs of one task over a grid of config values and seeds.

SweepSpec, Point            what to sweep, and each run of it
run_sweep(spec, out)        run a sweep into out/sweep-task-preset-hash/ (resumable)
run_points(points, ...)     run (config, run folder) pairs on the local or Ray backend
Execution                   a command's backend options, with .run(points)
open_sweep(path)            tidy tables of every point, and means over seeds
"""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.sweep.backends import Execution, check_backend, run_points
    from specdyn.sweep.results import Sweep, open_sweep
    from specdyn.sweep.runner import SweepResult, run_sweep, summary_lines
    from specdyn.sweep.spec import Point, SweepSpec
    from specdyn.sweep.worker import Outcome

__getattr__ = lazy_exports(
    __name__,
    {
        "Execution": "specdyn.sweep.backends",
        "check_backend": "specdyn.sweep.backends",
        "run_points": "specdyn.sweep.backends",
        "Sweep": "specdyn.sweep.results",
        "open_sweep": "specdyn.sweep.results",
        "SweepResult": "specdyn.sweep.runner",
        "run_sweep": "specdyn.sweep.runner",
        "summary_lines": "specdyn.sweep.runner",
        "Point": "specdyn.sweep.spec",
        "SweepSpec": "specdyn.sweep.spec",
        "Outcome": "specdyn.sweep.worker",
    },
)

__all__ = [
    "Execution",
    "Outcome",
    "Point",
    "Sweep",
    "SweepResult",
    "SweepSpec",
    "check_backend",
    "open_sweep",
    "run_points",
    "run_sweep",
    "summary_lines",
]
