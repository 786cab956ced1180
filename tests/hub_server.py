"""A small Hugging Face Hub-compatible HTTP server for tests, bound to 127.0.0.1.

It speaks the part of the Hub protocol that ``huggingface_hub`` (2.x) uses to download model repos,
so tests can drive the real client (``hf_hub_download``, ``snapshot_download``, ``HfApi``) with
no network and no mocks:

* ``HEAD``/``GET /{repo_id}/resolve/{revision}/{path}``: the file, with ``X-Repo-Commit`` (40-hex
  commit sha), ``ETag`` and ``Content-Length``. Weight files (``.bin``, ``.safetensors``, …) are
  served like LFS files: ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``, and with
  ``lfs_redirect=True`` a ``302`` whose ``Location`` points at a second "CDN" listener on another
  port (so the client treats it as a different host, as with the real Hub's CDN).
* ``GET /api/models/{repo_id}`` and ``/api/models/{repo_id}/revision/{revision}``: JSON with
  ``id``, ``sha`` and ``siblings`` (``[{"rfilename": …}]``).
* ``GET /api/models/{repo_id}/tree/{revision}[/{path}]?recursive=…``: the tree listing
  (``type``, ``path``, ``size``, ``oid``, ``lfs``).
* Errors carry ``X-Error-Code`` as the Hub does: ``RepoNotFound`` (404), ``RevisionNotFound``
  (404), ``EntryNotFound`` (404, with ``X-Repo-Commit``), ``GatedRepo`` (401).

Example::

    with HubServer() as hub:
        sha = hub.publish("user/model", {"config.json": b"{}"})
        os.environ["HF_ENDPOINT"] = hub.url   # or pass endpoint=hub.url
        ...
        assert ("HEAD", "/user/model/resolve/main/config.json") in hub.request_log

Set ``hub.hang = True`` to make every new request hang (the connection is accepted, nothing is
ever answered) until ``hang`` is reset or the server stops: that is how a Hub that times out looks.
``stop()`` closes the listening socket, so later connections are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

logger = logging.getLogger(__name__)

#: Files served like Git LFS files (``X-Linked-Etag`` = sha256, optionally redirected to the "CDN").
LFS_SUFFIXES = (".bin", ".safetensors", ".pth", ".pt", ".ckpt", ".pkl", ".h5", ".onnx")
#: How long a hanging request waits at most before it gives up by itself (a safety net for tests).
HANG_LIMIT_S = 120.0


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob, which the Hub uses as ``oid``/``ETag`` of regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_lfs(path: str) -> bool:
    return path.lower().endswith(LFS_SUFFIXES)


@dataclass
class _Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> files
    refs: dict[str, str] = field(default_factory=dict)  # branch name -> commit sha
    history: list[str] = field(default_factory=list)  # commit shas, oldest first
    gated: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: HubServer, *, cdn: bool) -> None:
        self.hub = hub
        self.cdn = cdn
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, so nothing stays open after stop().
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:  # the stdlib signature (shadows format)
        logger.debug("hub_server: " + format, *args)

    def do_HEAD(self) -> None:  # stdlib naming
        self._dispatch(head=True)

    def do_GET(self) -> None:  # stdlib naming
        self._dispatch(head=False)

    # -- plumbing -------------------------------------------------------------------------------
    def _dispatch(self, *, head: bool) -> None:
        hub = self.server.hub
        raw_path = urlsplit(self.path).path
        hub._log(self.command, self.path)
        if hub._wait_if_hanging():
            self.close_connection = True
            return
        try:
            if self.server.cdn:
                self._serve_cdn(raw_path, head=head)
            elif raw_path.startswith("/api/models/"):
                self._serve_api(raw_path, head=head)
            elif "/resolve/" in raw_path:
                self._serve_resolve(raw_path, head=head)
            else:
                self._send(404, b"Not Found", head=head)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up
            pass

    def _send(
        self,
        status: int,
        body: bytes = b"",
        *,
        head: bool,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _send_json(self, obj: object, *, head: bool) -> None:
        self._send(200, json.dumps(obj).encode(), head=head, content_type="application/json")

    def _error(self, status: int, code: str, message: str, *, head: bool, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        if commit is not None:
            headers["X-Repo-Commit"] = commit
        body = json.dumps({"error": message}).encode()
        self._send(status, body, head=head, headers=headers, content_type="application/json")

    # -- routes ---------------------------------------------------------------------------------
    def _lookup(self, repo_id: str, revision: str, *, head: bool) -> tuple[_Repo, str] | None:
        """The repo and the commit a revision names, or ``None`` after answering with the error."""
        hub = self.server.hub
        with hub._lock:
            repo = hub._repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found", head=head)
                return None
            commit = repo.refs.get(revision) or (revision if revision in repo.commits else None)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head=head)
            return None
        return repo, commit

    def _serve_resolve(self, raw_path: str, *, head: bool) -> None:
        repo_part, _, tail = raw_path.lstrip("/").partition("/resolve/")
        repo_id = unquote(repo_part)
        revision_raw, _, file_raw = tail.partition("/")
        revision, filename = unquote(revision_raw), unquote(file_raw)
        found = self._lookup(repo_id, revision, head=head)
        if found is None:
            return
        repo, commit = found
        if repo.gated:
            self._error(
                401,
                "GatedRepo",
                f"Access to model {repo_id} is restricted. You must have access to it and be authenticated.",
                head=head,
            )
            return
        data = repo.commits[commit].get(filename)
        if data is None:
            self._error(404, "EntryNotFound", f"{filename} does not exist on {revision!r}", head=head, commit=commit)
            return
        headers = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes"}
        if _is_lfs(filename):
            sha256 = hashlib.sha256(data).hexdigest()
            headers.update({"ETag": f'"{sha256}"', "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data))})
            hub = self.server.hub
            if hub.lfs_redirect:
                location = f"{hub.cdn_url}/_cdn/{sha256}?name={quote(filename)}"
                self._send(302, b"", head=head, headers={**headers, "Location": location})
                return
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        self._send(200, data, head=head, headers=headers, content_type="application/octet-stream")

    def _serve_cdn(self, raw_path: str, *, head: bool) -> None:
        sha256 = raw_path.rsplit("/", 1)[-1]
        data = self.server.hub._blob_by_sha256(sha256)
        if not raw_path.startswith("/_cdn/") or data is None:
            self._send(404, b"NoSuchKey", head=head)
            return
        self._send(200, data, head=head, headers={"ETag": f'"{sha256}"'}, content_type="application/octet-stream")

    def _serve_api(self, raw_path: str, *, head: bool) -> None:
        hub = self.server.hub
        segments = [unquote(s) for s in raw_path[len("/api/models/") :].split("/") if s != ""]
        with hub._lock:
            known = set(hub._repos)
        # Repo ids are "namespace/name" or (legacy) "name".
        if len(segments) >= 2 and "/".join(segments[:2]) in known:
            n = 2
        elif segments and segments[0] in known:
            n = 1
        else:
            n = 2 if len(segments) >= 2 and segments[1] not in ("revision", "tree") else 1
        repo_id, rest = "/".join(segments[:n]), segments[n:]
        if not rest:
            revision, route, sub = "main", "info", []
        elif rest[0] in ("revision", "tree") and len(rest) >= 2:
            route, revision, sub = rest[0], rest[1], rest[2:]
        else:
            self._send(404, b"Not Found", head=head)
            return
        found = self._lookup(repo_id, revision, head=head)
        if found is None:
            return
        repo, commit = found
        files = repo.commits[commit]
        if route in ("info", "revision"):
            self._send_json(
                {
                    "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": commit,
                    "private": False,
                    "gated": "manual" if repo.gated else False,
                    "disabled": False,
                    "downloads": 0,
                    "likes": 0,
                    "tags": [],
                    "siblings": [{"rfilename": name} for name in sorted(files)],
                },
                head=head,
            )
            return
        query = parse_qs(urlsplit(self.path).query)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        self._send_json(_tree_listing(files, "/".join(sub), recursive=recursive), head=head)


def _tree_listing(files: Mapping[str, bytes], prefix: str, *, recursive: bool) -> list[dict[str, object]]:
    """The Hub's ``/tree`` answer for the folder ``prefix`` ("" = root)."""
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    entries: dict[str, dict[str, object]] = {}
    for path in sorted(files):
        if not path.startswith(base):
            continue
        parts = path[len(base) :].split("/")
        for depth in range(1, len(parts)):  # the folders on the way
            folder = base + "/".join(parts[:depth])
            if recursive or depth == 1:
                oid = hashlib.sha1(folder.encode()).hexdigest()
                entries.setdefault(folder, {"type": "directory", "oid": oid, "size": 0, "path": folder})
        if recursive or len(parts) == 1:
            data = files[path]
            entry: dict[str, object] = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
            if _is_lfs(path):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries[path] = entry
    return [entries[k] for k in sorted(entries)]


class HubServer:
    """A Hub-compatible HTTP server on 127.0.0.1 serving in-memory model repos.

    Args:
        port: port to bind (0 = a free one). After ``stop()``, ``start()`` binds the same port again.
        lfs_redirect: answer weight files (see :data:`LFS_SUFFIXES`) with a ``302`` to a second
            listener on another port, as the real Hub redirects LFS files to its CDN.
    """

    def __init__(self, *, port: int = 0, lfs_redirect: bool = False) -> None:
        self.host = "127.0.0.1"
        self.lfs_redirect = lfs_redirect
        self.request_log: list[tuple[str, str]] = []  # (method, path with query), in arrival order
        self._port = port
        self._cdn_port = 0
        self._repos: dict[str, _Repo] = {}
        self._lock = threading.Lock()
        self._hang = threading.Event()  # set: new requests hang
        self._release = threading.Event()  # set: hanging requests give up (stop() or hang = False)
        self._servers: list[tuple[_Server, threading.Thread]] = []
        self._commit_counter = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> HubServer:
        """Start listening (in daemon threads). Returns ``self``."""
        if self._servers:
            return self
        self._release.clear()
        main = _Server((self.host, self._port), self, cdn=False)
        self._port = main.server_address[1]
        self._servers.append((main, self._serve(main)))
        if self.lfs_redirect:
            cdn = _Server((self.host, self._cdn_port), self, cdn=True)
            self._cdn_port = cdn.server_address[1]
            self._servers.append((cdn, self._serve(cdn)))
        return self

    @staticmethod
    def _serve(server: _Server) -> threading.Thread:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop serving and close the listening sockets: later connections are refused."""
        self._release.set()  # let hanging requests go
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._servers.clear()

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return bool(self._servers)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port (known after ``start()``)."""
        return self._port

    @property
    def url(self) -> str:
        """The endpoint to give ``huggingface_hub`` (``HF_ENDPOINT`` / ``endpoint=``), no trailing slash."""
        if not self._port:
            raise RuntimeError("HubServer is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def cdn_url(self) -> str:
        """Base URL of the "CDN" listener (only with ``lfs_redirect=True``)."""
        return f"http://{self.host}:{self._cdn_port}"

    @property
    def hang(self) -> bool:
        """When true, requests are accepted but never answered (until reset or ``stop()``)."""
        return self._hang.is_set()

    @hang.setter
    def hang(self, value: bool) -> None:
        if value:
            self._release.clear()
            self._hang.set()
        else:
            self._hang.clear()
            self._release.set()

    def _wait_if_hanging(self) -> bool:
        if not self._hang.is_set():
            return False
        self._release.wait(timeout=HANG_LIMIT_S)
        return True

    # -- content --------------------------------------------------------------------------------
    def publish(
        self,
        repo_id: str,
        files: Mapping[str, bytes | os.PathLike[str]],
        *,
        revision: str = "main",
        replace: bool = False,
    ) -> str:
        """Commit ``files`` to branch ``revision`` of ``repo_id`` and return the new 40-hex commit sha.

        Each call makes a new commit and moves the branch to it. By default the commit keeps the
        branch's other files (like an upload); ``replace=True`` makes it hold exactly ``files``.
        A new branch starts from ``main``. Values are bytes, or paths whose bytes are read now.
        """
        contents: dict[str, bytes] = {}
        for name, value in files.items():
            if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"bad file name {name!r} for repo {repo_id!r}")
            if isinstance(value, (bytes, bytearray)):
                contents[name] = bytes(value)
            elif isinstance(value, os.PathLike):
                contents[name] = Path(value).read_bytes()
            else:
                raise TypeError(f"{name!r}: give bytes or a Path, not {type(value).__name__} (for text, use .encode())")
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo())
            parent = repo.refs.get(revision) or repo.refs.get("main")
            tree = {} if replace or parent is None else dict(repo.commits[parent])
            tree.update(contents)
            self._commit_counter += 1
            digest = hashlib.sha1(f"{repo_id}\0{revision}\0{parent}\0{self._commit_counter}".encode())
            for name in sorted(tree):
                digest.update(name.encode() + b"\0" + git_blob_sha1(tree[name]).encode())
            commit = digest.hexdigest()
            repo.commits[commit] = tree
            repo.refs[revision] = commit
            repo.history.append(commit)
        return commit

    def set_gated(self, repo_id: str, gated: bool = True) -> None:
        """Gate a published repo: its files answer ``GatedRepo`` (401), its metadata stays public."""
        with self._lock:
            if repo_id not in self._repos:
                raise KeyError(f"no repo {repo_id!r}; published: {sorted(self._repos)}")
            self._repos[repo_id].gated = gated

    def head(self, repo_id: str, revision: str = "main") -> str:
        """The commit sha that branch ``revision`` points to."""
        with self._lock:
            return self._repos[repo_id].refs[revision]

    def _blob_by_sha256(self, sha256: str) -> bytes | None:
        with self._lock:
            for repo in self._repos.values():
                for tree in repo.commits.values():
                    for data in tree.values():
                        if hashlib.sha256(data).hexdigest() == sha256:
                            return data
        return None

    # -- request log ----------------------------------------------------------------------------
    def _log(self, method: str, path: str) -> None:
        with self._lock:
            self.request_log.append((method, path))

    def requests(self, method: str | None = None, contains: str = "") -> list[tuple[str, str]]:
        """The logged requests, filtered by method and by a substring of the path."""
        with self._lock:
            return [(m, p) for m, p in self.request_log if (method is None or m == method) and contains in p]

    def clear_log(self) -> None:
        """Forget the logged requests."""
        with self._lock:
            self.request_log.clear()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
