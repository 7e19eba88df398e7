"""Figures: panels drawn from run stores (never from models or SVDs)."""

from specdyn.figures.plot import compare_runs, plot_run

__all__ = ["compare_runs", "plot_run"]
