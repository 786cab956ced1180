"""The only module that talks to the Hugging Face Hub.

Downloads go through ``huggingface_hub``'s cache (``HF_HOME``/``HF_HUB_CACHE``), with:

* **Settings read at call time.** huggingface_hub reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once,
  when it is imported; here the endpoint (``endpoint=`` or ``HF_ENDPOINT``), the cache folder
  (``cache_dir=``, ``HF_HUB_CACHE`` or ``HF_HOME``), offline mode (``offline=`` or ``HF_HUB_OFFLINE``)
  and the timeout (``GAN_STUDIO_HUB_TIMEOUT``, seconds, default 5) are read on every call and
  passed to huggingface_hub explicitly.
* **Bounded waits.** Left alone, ``hf_hub_download`` retries an unreachable Hub for ~23 s
  (and waits 10 s per attempt on a Hub that accepts but never answers) before giving up on an
  uncached file. Each call here first asks the Hub once, with the short timeout and no retries
  (a ``HEAD`` of the file, or the repo's info for listings and snapshots). If that fails for
  network reasons, the cached copy is used (with a warning) or :class:`~gan_studio.errors.HubError`
  is raised at once; only after the Hub answered does huggingface_hub download.
* **Readable errors.** Missing repos, gated repos, missing revisions and missing files become
  :class:`~gan_studio.errors.HubError` (a missing file: :class:`~gan_studio.errors.HubEntryNotFoundError`,
  whose message lists the files that are there), naming the repo, file, revision and endpoint
  and saying what to do.

This module only fetches files. It never unpickles anything and never runs code from a repo
(no ``trust_remote_code``): loading weights is :mod:`gan_studio.weights`' job.

>>> from gan_studio import hub
>>> path = hub.download_file("user/model", "model.safetensors")        # doctest: +SKIP
>>> hub.resolved_revision(path)                                         # doctest: +SKIP
'0123456789abcdef0123456789abcdef01234567'
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HubEntryNotFoundError, HubError

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_REVISION = "main"
#: Seconds to wait for the Hub to connect/answer before using the cache or giving up.
DEFAULT_TIMEOUT_S = 5.0
TIMEOUT_ENV = "GAN_STUDIO_HUB_TIMEOUT"
#: Parallel file downloads in :func:`download_snapshot`.
SNAPSHOT_WORKERS = 4

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "ON", "YES", "TRUE"}
_CACHE_PREFIXES = ("models--", "datasets--", "spaces--", "kernels--")
_MAX_LISTED_FILES = 30


# --------------------------------------------------------------------------------------------------
# Settings, read at call time
# --------------------------------------------------------------------------------------------------
def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub URL to use: ``endpoint``, else ``$HF_ENDPOINT``, else https://huggingface.co."""
    value = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return value.rstrip("/")


def hub_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The huggingface_hub cache folder, resolved the way huggingface_hub does, but now.

    ``cache_dir``, else ``$HF_HUB_CACHE``, ``$HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``,
    ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub``.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.path.expandvars(os.environ[name])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set now."""
    if offline is not None:
        return bool(offline)
    return any((os.environ.get(name) or "").upper() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_timeout() -> float:
    """Seconds to wait for the Hub: ``$GAN_STUDIO_HUB_TIMEOUT`` or :data:`DEFAULT_TIMEOUT_S`."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise HubError(f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds (e.g. {DEFAULT_TIMEOUT_S:g})")
    return value


@dataclass(frozen=True)
class _Settings:
    endpoint: str
    cache_dir: Path
    offline: bool
    timeout: float

    @property
    def cache_hint(self) -> str:
        home = os.environ.get("HF_HOME")
        return f"cache {str(self.cache_dir)!r}" + (f", HF_HOME={home!r}" if home else "")


def _settings(endpoint: str | None, cache_dir: str | os.PathLike[str] | None, offline: bool | None) -> _Settings:
    return _Settings(hub_endpoint(endpoint), hub_cache_dir(cache_dir), is_offline(offline), hub_timeout())


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def download_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> Path:
    """Download one file of a model repo (or take it from the cache) and return its local path.

    Args:
        repo_id: ``"owner/name"``.
        filename: path of the file in the repo, e.g. ``"model.safetensors"`` or ``"G/config.json"``.
        revision: branch, tag or 40-hex commit sha (default ``"main"``). A commit that is cached
            is returned without any network access.
        endpoint, cache_dir, offline: override ``HF_ENDPOINT``, the Hub cache, ``HF_HUB_OFFLINE``.

    Returns the path inside the cache's ``snapshots/<commit>/`` folder (see :func:`resolved_revision`).

    Raises:
        HubEntryNotFoundError: the repo has no such file at that revision (the message lists the files).
        HubError: missing repo or revision, gated repo, or the Hub unreachable / offline mode and the
            file not cached.
    """
    s = _settings(endpoint, cache_dir, offline)
    rev = revision or DEFAULT_REVISION
    _check_repo_id(repo_id)
    _check_filename(repo_id, filename)
    if s.offline:
        return _file_from_cache(repo_id, filename, rev, s, cause=None)
    if _COMMIT_RE.match(rev):
        cached = _cached_file(repo_id, filename, rev, s)
        if isinstance(cached, Path):
            return cached

    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    url = hf_hub_url(repo_id, filename, revision=rev, endpoint=s.endpoint)
    try:  # one quick request, no retries: is the Hub there, and does it have the file?
        metadata = get_hf_file_metadata(url, timeout=s.timeout, endpoint=s.endpoint)
    except Exception as exc:  # noqa: BLE001 - sorted out by _translate
        if _is_unreachable(exc):
            return _file_from_cache(repo_id, filename, rev, s, cause=exc)
        if isinstance(exc, EntryNotFoundError):
            # Let huggingface_hub record the absence in its cache (``.no_exist``), so that offline
            # the file is known to be missing and callers can go on to their next candidate.
            try:
                hf_hub_download(
                    repo_id, filename, revision=rev, endpoint=s.endpoint, cache_dir=str(s.cache_dir),
                    etag_timeout=s.timeout,
                )
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        raise _translate(exc, s, repo_id, rev, filename) from None
    if not metadata.commit_hash:
        raise HubError(
            f"the server at {s.endpoint} answered for {repo_id}/{filename} but not like a Hugging Face Hub "
            f"(no X-Repo-Commit header); check HF_ENDPOINT / endpoint="
        )

    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=rev,
            endpoint=s.endpoint,
            cache_dir=str(s.cache_dir),
            etag_timeout=s.timeout,
        )
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc, s, repo_id, rev, filename) from None
    return Path(path)


def download_snapshot(
    repo_id: str,
    *,
    revision: str | None = None,
    allow_patterns: str | Sequence[str] | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> Path:
    """Download the files of a repo (those matching ``allow_patterns``, e.g. ``["*.json", "*.safetensors"]``).

    Returns the snapshot folder (``…/snapshots/<commit>``). With the Hub unreachable or offline,
    a cached snapshot of that revision is returned if it holds the requested files.

    Raises:
        HubEntryNotFoundError: no file of the repo matches ``allow_patterns`` (the message lists the files).
        HubError: as :func:`download_file`.
    """
    s = _settings(endpoint, cache_dir, offline)
    rev = revision or DEFAULT_REVISION
    if isinstance(allow_patterns, str):
        patterns: list[str] | None = [allow_patterns]
    else:
        patterns = list(allow_patterns) if allow_patterns else None
    _check_repo_id(repo_id)
    if s.offline:
        return _snapshot_from_cache(repo_id, rev, patterns, s, cause=None)
    if _COMMIT_RE.match(rev) and _cached_tree(repo_id, rev, s) is not None:
        try:  # an immutable commit whose listing is cached: no network if its files are there
            return _snapshot_from_cache(repo_id, rev, patterns, s, cause=None, quiet=True)
        except HubError:
            pass

    try:  # one quick request, no retries
        info = _model_info(repo_id, rev, s)
    except Exception as exc:  # noqa: BLE001
        if _is_unreachable(exc):
            return _snapshot_from_cache(repo_id, rev, patterns, s, cause=exc)
        raise _translate(exc, s, repo_id, rev, None) from None
    files = sorted(sibling.rfilename for sibling in info.siblings or [])
    if patterns and not _match_any(files, patterns):
        raise HubEntryNotFoundError(
            f"no file in repo {repo_id!r} at revision {rev!r} ({s.endpoint}) matches {patterns}; "
            f"files there: {_list_names(files)}"
        )

    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            repo_id,
            revision=rev,
            allow_patterns=patterns,
            endpoint=s.endpoint,
            cache_dir=str(s.cache_dir),
            etag_timeout=s.timeout,
            max_workers=SNAPSHOT_WORKERS,
        )
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc, s, repo_id, rev, None) from None
    return Path(folder)


def list_repo_files(
    repo_id: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> list[str]:
    """The file paths of a repo at ``revision``, sorted (e.g. to prefer ``.safetensors`` over pickles).

    With the Hub unreachable or offline, the cached listing of that revision is used (the full
    listing if a snapshot was downloaded, otherwise the files that are in the cache).
    """
    s = _settings(endpoint, cache_dir, offline)
    rev = revision or DEFAULT_REVISION
    _check_repo_id(repo_id)
    if s.offline or (_COMMIT_RE.match(rev) and _cached_tree(repo_id, rev, s) is not None):
        return _files_from_cache(repo_id, rev, s, cause=None)
    try:
        info = _model_info(repo_id, rev, s)
    except Exception as exc:  # noqa: BLE001
        if _is_unreachable(exc):
            return _files_from_cache(repo_id, rev, s, cause=exc)
        raise _translate(exc, s, repo_id, rev, None) from None
    return sorted(sibling.rfilename for sibling in info.siblings or [])


def file_exists(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> bool:
    """Whether the repo has ``filename`` at ``revision`` (one quick ``HEAD``; nothing is downloaded).

    Offline or with the Hub unreachable, the cache answers: ``True`` if the file is cached,
    ``False`` if the cache knows it does not exist, and :class:`HubError` if it cannot tell.
    A missing repo or revision raises :class:`HubError`.
    """
    s = _settings(endpoint, cache_dir, offline)
    rev = revision or DEFAULT_REVISION
    _check_repo_id(repo_id)
    _check_filename(repo_id, filename)
    if not s.offline:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        try:
            url = hf_hub_url(repo_id, filename, revision=rev, endpoint=s.endpoint)
            metadata = get_hf_file_metadata(url, timeout=s.timeout, endpoint=s.endpoint)
            if not metadata.commit_hash:
                raise HubError(f"the server at {s.endpoint} does not answer like a Hugging Face Hub; check HF_ENDPOINT")
            return True
        except Exception as exc:  # noqa: BLE001
            if not _is_unreachable(exc):
                error = _translate(exc, s, repo_id, rev, filename, list_files=False)
                if isinstance(error, HubEntryNotFoundError):
                    return False
                raise error from None
            cause: BaseException | None = exc
    else:
        cause = None
    try:
        _file_from_cache(repo_id, filename, rev, s, cause=cause, quiet=True)
        return True
    except HubEntryNotFoundError:
        return False


def upload_folder(
    repo_id: str,
    folder: str | os.PathLike[str],
    *,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload with gan_studio",
    endpoint: str | None = None,
) -> str:
    """Create ``repo_id`` (a model repo) if needed and upload ``folder`` to it with ``token``, which is
    used for this call only and never stored. Returns the commit URL; failures raise :class:`HubError`."""
    from huggingface_hub import HfApi

    _check_repo_id(repo_id)
    s = _settings(endpoint, None, None)
    if s.offline:
        raise HubError(f"cannot upload to {repo_id!r}: the Hub is switched off (HF_HUB_OFFLINE)")
    api = HfApi(endpoint=s.endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=commit_message)
    except Exception as exc:  # translated into a HubError naming the repo
        translated = _translate(exc, s, repo_id, DEFAULT_REVISION, None, list_files=False)
        if translated is exc:
            raise HubError(f"cannot upload to {repo_id!r}: {_short(exc)}") from exc
        raise translated from None
    return str(getattr(info, "commit_url", info))


def is_reachable(repo_id: str, *, revision: str | None = None, endpoint: str | None = None,
                 offline: bool | None = None) -> bool:
    """Whether the Hub answers for ``repo_id`` now (one request, the short timeout, no retries);
    False in offline mode or on any error. For choosing defaults, never for loading."""
    s = _settings(endpoint, None, offline)
    if s.offline:
        return False
    try:
        _check_repo_id(repo_id)
        _model_info(repo_id, revision or "main", s)
    except Exception:  # noqa: BLE001 - unreachable, missing, gated: all mean "not now"
        return False
    return True


def is_cached(repo_id: str, *, revision: str | None = None, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a snapshot of ``repo_id`` at ``revision`` (default ``main``) is in the Hub cache."""
    s = _settings(None, cache_dir, None)
    return _cached_snapshot_files(repo_id, revision or "main", s) is not None


def resolved_revision(path: str | os.PathLike[str]) -> str | None:
    """The commit sha of a file or folder inside the Hub cache (``…/models--a--b/snapshots/<sha>/…``).

    Returns ``None`` for paths outside the cache layout (e.g. a local model folder). Use it to
    record where weights came from (provenance), whatever branch name was asked for.
    """
    parts = Path(os.path.abspath(os.fspath(path))).parts  # not resolve(): cache files are symlinks to blobs
    for i in range(1, len(parts) - 1):
        if parts[i] == "snapshots" and parts[i - 1].startswith(_CACHE_PREFIXES) and _COMMIT_RE.match(parts[i + 1]):
            return parts[i + 1]
    return None


# --------------------------------------------------------------------------------------------------
# Cache look-ups (no network)
# --------------------------------------------------------------------------------------------------
def _storage_folder(repo_id: str, s: _Settings) -> Path:
    return s.cache_dir / ("models--" + repo_id.replace("/", "--"))


def _cached_commit(repo_id: str, rev: str, s: _Settings) -> str | None:
    if _COMMIT_RE.match(rev):
        return rev
    ref = _storage_folder(repo_id, s) / "refs" / rev
    try:
        return ref.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _cached_file(repo_id: str, filename: str, rev: str, s: _Settings) -> Path | bool | None:
    """The cached path, ``False`` if the cache knows the file does not exist, ``None`` if unknown."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(s.cache_dir), revision=rev)
    if isinstance(found, str):
        return Path(found)
    if found is not None:  # huggingface_hub's "known not to exist" marker (.no_exist)
        return False
    tree = _cached_tree(repo_id, rev, s)
    if tree is not None and filename not in tree:
        return False
    return None


def _cached_tree(repo_id: str, rev: str, s: _Settings) -> list[str] | None:
    """The full file listing that a snapshot download cached for this revision, if any."""
    try:
        from huggingface_hub import get_cached_repo_tree
        from huggingface_hub.errors import CachedRepoTreeNotFoundError
    except ImportError:  # pragma: no cover - older huggingface_hub
        return None
    try:
        return sorted(f.path for f in get_cached_repo_tree(repo_id, revision=rev, cache_dir=str(s.cache_dir)))
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        return None


def _cached_snapshot_files(repo_id: str, rev: str, s: _Settings) -> list[str] | None:
    commit = _cached_commit(repo_id, rev, s)
    if commit is None:
        return None
    folder = _storage_folder(repo_id, s) / "snapshots" / commit
    if not folder.is_dir():
        return None
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _why_no_network(s: _Settings, cause: BaseException | None) -> str:
    if cause is None:
        return "offline mode is on (HF_HUB_OFFLINE=1 or offline=True)"
    from huggingface_hub.errors import OfflineModeIsEnabled

    if isinstance(cause, OfflineModeIsEnabled):
        return (
            "huggingface_hub was imported while HF_HUB_OFFLINE was set, so it refuses network access for "
            "the rest of this process (restart without HF_HUB_OFFLINE to go online)"
        )
    return f"the Hub at {s.endpoint} could not be reached ({_short(cause)})"


def _what_to_do(s: _Settings, cause: BaseException | None) -> str:
    if cause is None:
        return "unset HF_HUB_OFFLINE and connect to the network, or pre-download it into this cache"
    return (
        f"connect to the network (the timeout is {s.timeout:g} s, set {TIMEOUT_ENV} to change it), "
        f"or pre-download it into this cache"
    )


def _file_from_cache(
    repo_id: str, filename: str, rev: str, s: _Settings, *, cause: BaseException | None, quiet: bool = False
) -> Path:
    found = _cached_file(repo_id, filename, rev, s)
    why = _why_no_network(s, cause)
    if isinstance(found, Path):
        if cause is not None and not quiet:
            logger.warning(
                "%s; using the cached copy of %r from repo %r (revision %r, commit %s)",
                why, filename, repo_id, rev, resolved_revision(found) or "?",
            )
        return found
    if found is False:
        files = _cached_tree(repo_id, rev, s) or _cached_snapshot_files(repo_id, rev, s) or []
        raise HubEntryNotFoundError(
            f"no file {filename!r} in repo {repo_id!r} at revision {rev!r} (known from the {s.cache_hint}; {why}); "
            f"cached files there: {_list_names(files)}"
        )
    raise HubError(
        f"{why}, and {repo_id}/{filename} (revision {rev!r}) is not in the {s.cache_hint}; {_what_to_do(s, cause)}, "
        f"e.g. `hf download {repo_id} {filename} --revision {rev}` with the same HF_HOME"
    )


def _snapshot_from_cache(
    repo_id: str,
    rev: str,
    patterns: list[str] | None,
    s: _Settings,
    *,
    cause: BaseException | None,
    quiet: bool = False,
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import IncompleteSnapshotError, LocalEntryNotFoundError

    why = _why_no_network(s, cause)
    problem = "is not in the"
    try:
        folder = Path(
            snapshot_download(
                repo_id, revision=rev, allow_patterns=patterns, cache_dir=str(s.cache_dir), local_files_only=True
            )
        )
    except IncompleteSnapshotError:
        folder, problem = None, "is only partly in the"
    except (LocalEntryNotFoundError, OSError, ValueError):
        folder = None
    if folder is not None:
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        if present and (not patterns or _match_any(present, patterns)):
            if cause is not None and not quiet:
                logger.warning("%s; using the cached snapshot of %r (revision %r) at %s", why, repo_id, rev, folder)
            return folder
    what = f"snapshot of {repo_id!r} (revision {rev!r}{f', files {patterns}' if patterns else ''})"
    raise HubError(
        f"{why}, and the {what} {problem} {s.cache_hint}; {_what_to_do(s, cause)}, "
        f"e.g. `hf download {repo_id} --revision {rev}` with the same HF_HOME"
    )


def _files_from_cache(repo_id: str, rev: str, s: _Settings, *, cause: BaseException | None) -> list[str]:
    files = _cached_tree(repo_id, rev, s)
    complete = files is not None
    if files is None:
        files = _cached_snapshot_files(repo_id, rev, s)
    why = _why_no_network(s, cause)
    if files is None:
        raise HubError(
            f"{why}, and nothing of repo {repo_id!r} (revision {rev!r}) is in the {s.cache_hint}; "
            f"{_what_to_do(s, cause)}"
        )
    if cause is not None:
        logger.warning(
            "%s; listing the %s files of %r (revision %r) from the cache",
            why, "" if complete else "cached (possibly not all)", repo_id, rev,
        )
    return files


# --------------------------------------------------------------------------------------------------
# Network helpers and error translation
# --------------------------------------------------------------------------------------------------
def _model_info(repo_id: str, rev: str, s: _Settings) -> Any:
    """``GET /api/models/{repo}/revision/{rev}`` with the short timeout and no retries."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=s.endpoint).model_info(repo_id, revision=rev, timeout=s.timeout)


def _network_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]  # OfflineModeIsEnabled is a ConnectionError
    for module in ("httpx2", "httpx"):  # huggingface_hub 2.x uses httpx2, 1.x httpx
        try:
            mod = __import__(module)
        except ImportError:
            continue
        types.append(mod.TransportError)  # connect/read/write timeouts, refused, reset, protocol errors
    return tuple(types)


def _is_unreachable(exc: BaseException) -> bool:
    """A network failure or a Hub that is down (5xx, 408, 429): the cache may stand in."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, _network_error_types()):
        return True
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return exc.response.status_code in (408, 429) or exc.response.status_code >= 500
    return False


def _translate(
    exc: BaseException,
    s: _Settings,
    repo_id: str,
    rev: str,
    filename: str | None,
    *,
    list_files: bool = True,
) -> BaseException:
    """The :class:`HubError` for a huggingface_hub exception (other exceptions are returned as they are)."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, HubError):
        return exc
    target = f"{repo_id}/{filename}" if filename else repo_id
    if isinstance(exc, GatedRepoError):
        return HubError(
            f"repo {repo_id!r} on {s.endpoint} is gated: accept its conditions at {s.endpoint}/{repo_id} "
            f"and log in with an account that has access (`hf auth login` or HF_TOKEN)"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(
            f"no repo {repo_id!r} on {s.endpoint} (or it is private and you are not logged in); "
            f"check the repo id, or log in with `hf auth login` / HF_TOKEN"
        )
    if isinstance(exc, RevisionNotFoundError):
        return HubError(
            f"repo {repo_id!r} on {s.endpoint} has no revision {rev!r}; "
            f"give a branch, tag or 40-hex commit sha that exists (e.g. {DEFAULT_REVISION!r})"
        )
    if isinstance(exc, IncompleteSnapshotError | LocalEntryNotFoundError):  # network lost mid-way
        return HubError(
            f"the Hub at {s.endpoint} stopped answering and {target} (revision {rev!r}) is not (fully) in the "
            f"{s.cache_hint}; {_what_to_do(s, exc)}"
        )
    if isinstance(exc, EntryNotFoundError):
        listing = ""
        if list_files:
            files = _remote_files_quietly(repo_id, rev, s)
            listing = f"; files there: {_list_names(files)}" if files is not None else ""
        return HubEntryNotFoundError(
            f"no file {filename!r} in repo {repo_id!r} at revision {rev!r} ({s.endpoint}){listing}"
        )
    if isinstance(exc, HFValidationError):
        return HubError(f"{repo_id!r} is not a valid Hub repo id; use 'owner/name' ({_short(exc)})")
    if _is_unreachable(exc):
        return HubError(
            f"{_why_no_network(s, exc)} while fetching {target} (revision {rev!r}); {_what_to_do(s, exc)}"
        )
    if isinstance(exc, HfHubHTTPError):
        response = exc.response
        status = response.status_code if response is not None else "an error"
        if response is not None and not response.headers.get("X-Error-Code"):
            return HubError(
                f"the server at {s.endpoint} answered HTTP {status} for {target} (revision {rev!r}) without a Hub "
                f"error code; check that HF_ENDPOINT / endpoint= points at a Hugging Face Hub ({_short(exc)})"
            )
        return HubError(f"the Hub at {s.endpoint} answered {status} for {target} (revision {rev!r}): {_short(exc)}")
    return exc


def _remote_files_quietly(repo_id: str, rev: str, s: _Settings) -> list[str] | None:
    try:
        info = _model_info(repo_id, rev, s)
    except Exception as exc:  # noqa: BLE001 - only decorates an error message
        logger.debug("could not list %r at %r for an error message: %s", repo_id, rev, exc)
        return None
    return sorted(sibling.rfilename for sibling in info.siblings or [])


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]  # a lazy re-export mypy cannot see

    if not isinstance(repo_id, str):
        raise HubError(f"a Hub repo id must be a string like 'owner/name', got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"{repo_id!r} is not a valid Hub repo id; use 'owner/name' ({_short(exc)})") from None


def _check_filename(repo_id: str, filename: str) -> None:
    parts = filename.split("/") if isinstance(filename, str) else []
    if not parts or filename.startswith("/") or "\\" in filename or any(p in ("", ".", "..") for p in parts):
        raise HubError(
            f"{filename!r} is not a valid file path in repo {repo_id!r} "
            f"(use e.g. 'model.safetensors' or 'G/config.json')"
        )


def _match_any(files: Sequence[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(f, p) for f in files for p in patterns)


def _list_names(files: Sequence[str]) -> str:
    if not files:
        return "(none)"
    shown = ", ".join(files[:_MAX_LISTED_FILES])
    return shown + (f", … ({len(files) - _MAX_LISTED_FILES} more)" if len(files) > _MAX_LISTED_FILES else "")


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
