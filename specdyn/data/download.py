"""Verified downloads and safe archive extraction.

``fetch`` streams a URL to a temporary file beside the target, checks its SHA-256 and only
then renames it into place, so the target is either absent or complete and verified.
``extract`` unpacks .tar.gz/.tgz/.tar/.zip archives after checking that no member would
land outside the destination.
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from specdyn.data.catalog import SOURCES
from specdyn.data.errors import DataError
from specdyn.store.atomic import atomic_path

_CHUNK = 1 << 20


def fetch(
    url: str,
    dest_dir: Path | str,
    sha256: str | None,
    filename: str | None = None,
    *,
    allow_unverified: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` into ``dest_dir`` (as ``filename``, default the URL's last part).

    An existing file whose SHA-256 matches is returned as is (one that does not match is
    downloaded again and replaced only once the new copy verifies). ``sha256=None`` is refused
    unless ``allow_unverified=True``, in which case an existing file is trusted and a new
    one is kept unchecked. An HTTP or network error, or a checksum mismatch, raises
    ``DataError`` naming the URL and leaves no partial file behind.
    """
    if sha256 is None and not allow_unverified:
        raise DataError(f"{url}: no known sha256; pass allow_unverified=True to download anyway")
    target = Path(dest_dir) / _safe_filename(filename or _url_filename(url), url)
    if target.is_file() and (sha256 is None or file_sha256(target) == sha256.lower()):
        return target
    with atomic_path(target) as tmp:
        digest = _download(url, tmp, timeout)
        if sha256 is not None and digest != sha256.lower():
            raise DataError(f"{url}: sha256 {digest} does not match the expected {sha256}")
    return target


def fetch_source(name: str, dest_dir: Path | str, *, timeout: float = 60.0) -> Path:
    """``fetch`` one entry of ``SOURCES``, trying its mirrors when the official URL fails."""
    if name not in SOURCES:
        raise DataError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
    source = SOURCES[name]
    errors = []
    for url in (source.url, *source.mirrors):
        try:
            return fetch(url, dest_dir, source.sha256, source.filename, timeout=timeout)
        except DataError as e:
            errors.append(str(e))
    raise DataError("; ".join(errors))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def extract(archive: Path | str, dest: Path | str) -> Path:
    """Unpack a .tar.gz/.tgz/.tar or .zip into ``dest``; returns ``dest``.

    Every member is checked first: an absolute path, a ``..`` that climbs out of ``dest``,
    or a link or device member refuses the whole archive, with nothing written.
    """
    archive, dest = Path(archive), Path(dest)
    name = archive.name.lower()
    if not archive.is_file():
        raise DataError(f"{archive}: no such file")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            _extract_tar(archive, dest)
        elif name.endswith(".zip"):
            _extract_zip(archive, dest)
        else:
            raise DataError(f"{archive}: not a .tar.gz, .tgz, .tar or .zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{archive}: corrupt archive ({e})") from e
    return dest


def _download(url: str, tmp: Path, timeout: float) -> str:
    """Stream ``url`` into ``tmp``; returns the hex SHA-256 of what was written."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            while chunk := response.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        e.close()
        raise DataError(f"{url}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DataError(f"{url}: cannot download ({e.reason})") from e
    except (OSError, ValueError) as e:  # timeouts, resets, malformed URLs
        raise DataError(f"{url}: cannot download ({e})") from e
    return h.hexdigest()


def _url_filename(url: str) -> str:
    return PurePosixPath(urllib.parse.urlparse(url).path).name


def _safe_filename(filename: str, url: str) -> str:
    if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
        raise DataError(f"{url}: no usable file name ({filename!r}); pass filename=")
    return filename


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not (member.isfile() or member.isdir()):
                raise DataError(f"{archive}: refused member {member.name} (link or special file)")
            _check_inside(archive, dest, member.name)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python without extraction filters; the checks above did their job
            tar.extractall(dest)


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            _check_inside(archive, dest, name)
        zf.extractall(dest)


def _check_inside(archive: Path, dest: Path, name: str) -> None:
    root = dest.resolve()
    target = (root / name).resolve()
    if PurePosixPath(name).is_absolute() or not target.is_relative_to(root):
        raise DataError(f"{archive}: refused member {name} (outside {dest})")
