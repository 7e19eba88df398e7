"""One cache root, and the one place that decides where a real data set comes from.

Everything specdyn derives from data (downloads, stand-in audio, tokens, features) lies
under ``CACHE_ROOT`` (``~/.cache/specdyn``): ``cache_dir("tokens", key)``. A real data set
is read from ``--data-dir`` when one is given, else from ``CACHE_ROOT/<data set>`` when it
is there, else downloaded into it; when the download fails the error says to pass
``--data-dir`` (:func:`dataset_root`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from specdyn.data.catalog import DATASETS
from specdyn.data.download import extract, fetch_source
from specdyn.data.errors import DataError

CACHE_ROOT = Path.home() / ".cache" / "specdyn"


def cache_dir(*parts: str) -> Path:
    """``CACHE_ROOT / parts[0] / parts[1] / ...`` (not created)."""
    return CACHE_ROOT.joinpath(*parts)


def dataset_root(
    dataset: str,
    data_dir: str,
    present: Callable[[Path], bool] | None = None,
    *,
    unpack: bool = True,
    cache: Path | None = None,
) -> Path:
    """Where ``dataset`` (a ``DATASETS`` key) lies: ``data_dir`` when one is given, else
    the cache (``cache``, by default ``cache_dir(dataset)``), into which its files are
    downloaded (and unpacked) unless ``present(cache)``.

    Without ``present`` every file goes through ``fetch_source``, which keeps verified files.
    A failed download raises ``DataError`` that says to pass ``--data-dir``.
    """
    if data_dir:
        return Path(data_dir).expanduser()
    cache = cache_dir(dataset) if cache is None else cache
    if present is not None and present(cache):
        return cache
    try:
        for name in DATASETS[dataset]:
            path = fetch_source(name, cache)
            if unpack:
                extract(path, cache)
    except DataError as e:
        raise DataError(f"no {dataset} in {cache} and no download ({e}); pass --data-dir") from e
    return cache
