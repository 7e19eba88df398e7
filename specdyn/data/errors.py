"""The one error the data loaders raise on purpose."""

from __future__ import annotations

from specdyn.errors import SpecdynError


class DataError(SpecdynError):
    """A data file that is missing, malformed or unsafe, or a download that failed.

    The message names the file, folder or URL concerned. It is kept to one line even when
    it quotes a library's multi-line error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split("\n")))
