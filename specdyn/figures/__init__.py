"""Figures: panels drawn from run stores (never from models or SVDs).

``choices`` reads what each task's figures show (``Task.figures``); ``panels`` draws one panel
on a matplotlib Axes; ``plot`` writes PNGs of a run or a comparison of runs.
"""

from specdyn.figures.choices import FigureChoices, error_label, figure_choices
from specdyn.figures.plot import compare_runs, plot_run

__all__ = [
    "FigureChoices",
    "compare_runs",
    "error_label",
    "figure_choices",
    "plot_run",
]
