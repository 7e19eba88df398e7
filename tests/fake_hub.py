"""A local HTTP server on 127.0.0.1 with the Hugging Face Hub's file layout, for tests.

It answers what ``huggingface_hub`` asks when it lists a revision and downloads files:

- ``GET /api/models/{repo}/revision/{rev}``: ``{"id", "sha", "siblings": [{"rfilename"}]}``;
  otherwise 401 ``X-Error-Code: RepoNotFound`` (the Hub answers a missing repository as
  a private one) or 404 ``RevisionNotFound``;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: small files directly, with ``ETag``,
  ``Content-Length`` and ``X-Repo-Commit``; safetensors files, as the Hub serves LFS files,
  by a 302 to a second server (the "CDN", another origin) with ``X-Linked-Etag``,
  ``X-Linked-Size`` and ``X-Repo-Commit`` on the redirect; 404 ``EntryNotFound``.

``rev`` is a branch name or a commit. Every request is logged as (method, path).
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

Repos = dict[str, dict[str, dict[str, bytes]]]  # repo -> branch -> filename -> content


def commit_of(repo: str, branch: str) -> str:
    return hashlib.sha1(f"{repo}@{branch}".encode()).hexdigest()


class FakeHub:
    def __init__(self, repos: Repos):
        self.repos = repos
        self.log: list[tuple[str, str]] = []
        self.blobs: dict[str, bytes] = {}
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), self._handler()) for _ in (0, 1)]
        self.url, self.cdn = (f"http://127.0.0.1:{s.server_address[1]}" for s in self._servers)

    def __enter__(self) -> FakeHub:
        for s in self._servers:
            threading.Thread(target=s.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()

    def revision(self, repo: str, rev: str) -> tuple[str, dict[str, bytes]] | None:
        for branch, files in self.repos.get(repo, {}).items():
            if rev in (branch, commit_of(repo, branch)):
                return commit_of(repo, branch), files
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.log.append((self.command, path))
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
                    return self._info("/".join(parts[2:4]), "/".join(parts[5:]), body)
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
                if parts[0] == "blobs" and parts[-1] in hub.blobs:
                    data = hub.blobs[parts[-1]]
                    return self._send(200, data, {"ETag": f'"{parts[-1]}"'}, body)
                return self._send(404, b"not found", {}, body)

            def _info(self, repo: str, rev: str, body: bool) -> None:
                if repo not in hub.repos:
                    return self._error("RepoNotFound", body)
                found = hub.revision(repo, rev)
                if found is None:
                    return self._error("RevisionNotFound", body)
                sha, files = found
                info = {"id": repo, "sha": sha, "siblings": [{"rfilename": f} for f in files]}
                return self._send(200, json.dumps(info).encode(), {}, body, "application/json")

            def _resolve(self, repo: str, rev: str, name: str, body: bool) -> None:
                found = hub.revision(repo, rev) if repo in hub.repos else None
                if found is None:
                    code = "RepoNotFound" if repo not in hub.repos else "RevisionNotFound"
                    return self._error(code, body)
                sha, files = found
                if name not in files:
                    return self._error("EntryNotFound", body, {"X-Repo-Commit": sha})
                data = files[name]
                if name.endswith(".safetensors"):  # an LFS file: redirected to the CDN
                    digest = hashlib.sha256(data).hexdigest()
                    hub.blobs[digest] = data
                    headers = {
                        "Location": f"{hub.cdn}/blobs/{digest}",
                        "X-Linked-Etag": f'"{digest}"',
                        "X-Linked-Size": str(len(data)),
                        "X-Repo-Commit": sha,
                    }
                    return self._send(302, b"", headers, body)
                etag = hashlib.sha1(data).hexdigest()
                return self._send(200, data, {"ETag": f'"{etag}"', "X-Repo-Commit": sha}, body)

            def _error(self, code: str, body: bool, extra: dict[str, str] | None = None) -> None:
                headers = {"X-Error-Code": code, **(extra or {})}
                message = json.dumps({"error": code}).encode()
                status = 401 if code == "RepoNotFound" else 404
                self._send(status, message, headers, body, "application/json")

            def _send(
                self,
                status: int,
                data: bytes,
                headers: dict[str, str],
                body: bool,
                kind: str = "application/octet-stream",
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler
