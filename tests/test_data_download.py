"""fetch and extract against a local HTTP server on 127.0.0.1; no other network."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile

import pytest

from specdyn.data import SOURCES, DataError, Source, dataset_root, extract, fetch, fetch_source
from specdyn.data.catalog import DATASETS


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path/www`` on an ephemeral port; yields (base URL, folder)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_verifies_and_reuses(server, tmp_path):
    url, www = server
    archive = _tar_gz({"pkg/a.txt": b"hello", "pkg/sub/b.txt": b"world"})
    (www / "data.tar.gz").write_bytes(archive)
    dest = tmp_path / "dl"
    path = fetch(f"{url}/data.tar.gz", dest, _sha(archive))
    assert path == dest / "data.tar.gz" and path.read_bytes() == archive
    assert sorted(p.name for p in dest.iterdir()) == ["data.tar.gz"]
    (www / "data.tar.gz").write_bytes(b"changed upstream")  # a verified file is not fetched again
    assert fetch(f"{url}/data.tar.gz", dest, _sha(archive).upper()).read_bytes() == archive
    out = extract(path, tmp_path / "out")
    assert (out / "pkg" / "sub" / "b.txt").read_bytes() == b"world"


def test_fetch_wrong_checksum_leaves_nothing(server, tmp_path):
    url, www = server
    (www / "data.bin").write_bytes(b"x" * 5000)
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match=rf"{url}/data.bin: sha256 .* does not match"):
        fetch(f"{url}/data.bin", dest, "0" * 64)
    assert list(dest.iterdir()) == []


def test_fetch_404_and_unreachable(server, tmp_path):
    url, _ = server
    with pytest.raises(DataError, match=rf"{url}/missing.zip: HTTP 404"):
        fetch(f"{url}/missing.zip", tmp_path / "dl", "0" * 64)
    assert list((tmp_path / "dl").iterdir()) == []
    with pytest.raises(DataError, match="cannot download"):
        fetch("http://127.0.0.1:9/x.bin", tmp_path / "dl", "0" * 64, timeout=2)


def test_fetch_without_checksum_needs_consent(server, tmp_path):
    url, www = server
    (www / "f.txt").write_bytes(b"data")
    with pytest.raises(DataError, match="allow_unverified"):
        fetch(f"{url}/f.txt", tmp_path, None)
    path = fetch(f"{url}/f.txt", tmp_path, None, filename="g.txt", allow_unverified=True)
    assert path.name == "g.txt" and path.read_bytes() == b"data"
    with pytest.raises(DataError, match="file name"):
        fetch(f"{url}/", tmp_path, "0" * 64)


def test_fetch_source_falls_back_to_mirror(server, tmp_path, monkeypatch):
    url, www = server
    (www / "m.bin").write_bytes(b"mirror copy")
    source = Source(f"{url}/gone/m.bin", _sha(b"mirror copy"), mirrors=(f"{url}/m.bin",))
    monkeypatch.setitem(SOURCES, "test-source", source)
    assert fetch_source("test-source", tmp_path).read_bytes() == b"mirror copy"
    with pytest.raises(DataError, match="unknown source"):
        fetch_source("nope", tmp_path)


def test_dataset_root_downloads_unpacks_or_says_data_dir(server, tmp_path, monkeypatch):
    url, www = server
    archive = _tar_gz({"set/a.txt": b"alpha"})
    (www / "set.tar.gz").write_bytes(archive)
    monkeypatch.setitem(SOURCES, "test-set", Source(f"{url}/set.tar.gz", _sha(archive)))
    monkeypatch.setitem(DATASETS, "test", ("test-set",))
    cache = tmp_path / "cache"

    def present(root):
        return (root / "set" / "a.txt").is_file()

    assert dataset_root("test", str(tmp_path / "mine"), cache=cache) == tmp_path / "mine"
    assert not cache.exists()  # a data_dir is used as given, nothing is downloaded
    assert dataset_root("test", "", present, cache=cache) == cache
    assert (cache / "set" / "a.txt").read_bytes() == b"alpha"
    (www / "set.tar.gz").unlink()  # present: the cache is used without the network
    assert dataset_root("test", "", present, cache=cache) == cache
    with pytest.raises(DataError, match="no test in .* pass --data-dir"):
        dataset_root("test", "", present, cache=tmp_path / "other")
    assert list((tmp_path / "other").glob("*")) == []


def test_sources_table_is_complete():
    for name in ("cifar10-binary", "cifar10-python", "mnist-train-images", "wikitext-103-raw"):
        assert SOURCES[name].url.startswith("https://")
    assert SOURCES["librispeech-dev-clean"].filename == "dev-clean.tar.gz"
    assert all(s.sha256 is None or len(s.sha256) == 64 for s in SOURCES.values())


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil-abs", "ok/../../evil"])
def test_extract_refuses_escaping_tar_members(tmp_path, name):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_gz({"fine.txt": b"ok", name: b"boom"}))
    dest = tmp_path / "out"
    with pytest.raises(DataError, match="refused member"):
        extract(archive, dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil").exists()


def test_extract_refuses_links_and_escaping_zip(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    (tmp_path / "link.tar").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="link or special"):
        extract(tmp_path / "link.tar", tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("../evil", b"boom")
    with pytest.raises(DataError, match="refused member ../evil"):
        extract(tmp_path / "bad.zip", tmp_path / "out")


def test_extract_zip_and_bad_archives(tmp_path):
    with zipfile.ZipFile(tmp_path / "w.zip", "w") as zf:
        zf.writestr("wikitext-103-raw/wiki.test.raw", "text")
    assert (extract(tmp_path / "w.zip", tmp_path / "o") / "wikitext-103-raw/wiki.test.raw").exists()
    (tmp_path / "junk.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="corrupt archive"):
        extract(tmp_path / "junk.tar.gz", tmp_path / "o")
    (tmp_path / "x.rar").write_bytes(b"")
    with pytest.raises(DataError, match="not a .tar.gz"):
        extract(tmp_path / "x.rar", tmp_path / "o")
