"""The closed training loop and its callbacks."""

from specdyn.train.loop import train

__all__ = ["train"]
