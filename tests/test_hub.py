"""gan_studio.hub against a real Hub-compatible HTTP server on 127.0.0.1 (tests/hub_server.py).

The real huggingface_hub client does every request; nothing of it is mocked. The deliberate
timeout tests set GAN_STUDIO_HUB_TIMEOUT to 1 s so they take about a second each.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gan_studio import hub
from gan_studio.errors import CheckpointError, HubEntryNotFoundError, HubError

try:
    from hub_server import HubServer, free_port
except ImportError:  # pragma: no cover - tests/ imported as a package
    from tests.hub_server import HubServer, free_port

if importlib.util.find_spec("pytest_timeout") is not None:  # a hang fails the test instead of the suite
    pytestmark = pytest.mark.timeout(60)

REPO = "studio-tests/tiny-gan"
CONFIG = json.dumps({"nz": 8, "ngf": 4}).encode()


# --------------------------------------------------------------------------------------------------
# downloads that work
# --------------------------------------------------------------------------------------------------
def test_download_file_returns_the_published_bytes_and_commit(hub_server: HubServer, isolated_hf_home: Path) -> None:
    sha = hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"\x00" * 64})

    path = hub.download_file(REPO, "config.json")  # endpoint from HF_ENDPOINT, read at call time

    assert path.read_bytes() == CONFIG
    assert hub.resolved_revision(path) == sha
    assert len(sha) == 40 and int(sha, 16) >= 0
    assert str(path).startswith(str(isolated_hf_home / "hub"))
    assert ("GET", f"/{REPO}/resolve/main/config.json") in hub_server.request_log
    assert not any("model.safetensors" in p for _, p in hub_server.request_log)


def test_explicit_endpoint_wins_over_hf_endpoint(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG})
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there

    path = hub.download_file(REPO, "config.json", endpoint=hub_server.url)

    assert path.read_bytes() == CONFIG


def test_lfs_file_behind_a_cdn_redirect(isolated_hf_home: Path) -> None:
    weights = bytes(range(256)) * 8
    with HubServer(lfs_redirect=True) as server:
        sha = server.publish(REPO, {"pytorch_model.bin": weights, "config.json": CONFIG})

        path = hub.download_file(REPO, "pytorch_model.bin", endpoint=server.url)

        assert path.read_bytes() == weights
        assert hub.resolved_revision(path) == sha
        assert server.requests("GET", "/_cdn/"), server.request_log  # the bytes came from the "CDN"
        assert not server.requests("GET", "/resolve/main/pytorch_model.bin")


def test_download_snapshot_with_patterns_and_subfolders(hub_server: HubServer) -> None:
    sha = hub_server.publish(
        REPO,
        {"config.json": CONFIG, "model.safetensors": b"w" * 32, "G_A/config.json": b"{}", "README.md": b"# card"},
    )

    everything = hub.download_snapshot(REPO)
    only_json = hub.download_snapshot(REPO, allow_patterns=["*.json"])

    assert everything.name == sha == hub.resolved_revision(everything)
    assert (everything / "G_A" / "config.json").read_bytes() == b"{}"
    assert (everything / "model.safetensors").read_bytes() == b"w" * 32
    assert only_json == everything
    assert hub_server.requests("GET", f"/api/models/{REPO}/tree/{sha}")


def test_snapshot_pattern_that_matches_nothing(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w"})

    with pytest.raises(HubEntryNotFoundError) as info:
        hub.download_snapshot(REPO, allow_patterns="*.ckpt")

    message = str(info.value)
    assert "*.ckpt" in message and "config.json, model.safetensors" in message


def test_list_repo_files_and_file_exists(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "pytorch_model.bin": b"p", "sub/model.safetensors": b"s"})

    assert hub.list_repo_files(REPO) == ["config.json", "pytorch_model.bin", "sub/model.safetensors"]
    assert hub.file_exists(REPO, "sub/model.safetensors") is True
    assert hub.file_exists(REPO, "model.safetensors") is False
    assert not hub_server.requests("GET", "/resolve/")  # file_exists downloads nothing
    with pytest.raises(HubError, match="no repo 'nobody/nothing'"):
        hub.file_exists("nobody/nothing", "config.json")


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------
def test_missing_repo(hub_server: HubServer) -> None:
    with pytest.raises(HubError) as info:
        hub.download_file("nobody/nothing", "config.json")

    assert not isinstance(info.value, HubEntryNotFoundError)
    message = str(info.value)
    assert "'nobody/nothing'" in message and hub_server.url in message and "log in" in message


def test_missing_file_lists_the_files_there(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w", "G_B/model.safetensors": b"b"})

    with pytest.raises(HubEntryNotFoundError) as info:
        hub.download_file(REPO, "pytorch_model.bin")

    message = str(info.value)
    assert "'pytorch_model.bin'" in message and f"'{REPO}'" in message and "'main'" in message
    assert "files there: G_B/model.safetensors, config.json, model.safetensors" in message
    assert hub_server.url in message


def test_missing_revision(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG})

    with pytest.raises(HubError) as info:
        hub.download_file(REPO, "config.json", revision="v9.9")
    with pytest.raises(HubError, match="no revision 'v9.9'"):
        hub.download_snapshot(REPO, revision="v9.9")

    assert not isinstance(info.value, HubEntryNotFoundError)
    assert "no revision 'v9.9'" in str(info.value) and f"'{REPO}'" in str(info.value)


def test_gated_repo(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG})
    hub_server.set_gated(REPO)

    with pytest.raises(HubError) as info:
        hub.download_file(REPO, "config.json")
    with pytest.raises(HubError, match="gated"):
        hub.download_snapshot(REPO)  # metadata is public, the files are not

    message = str(info.value)
    assert "gated" in message and f"{hub_server.url}/{REPO}" in message and "HF_TOKEN" in message


@pytest.mark.parametrize("bad", ["", "a/b/c", "-x-/y", "a b/c"])
def test_invalid_repo_id(isolated_hf_home: Path, bad: str) -> None:
    with pytest.raises(HubError, match="not a valid Hub repo id"):
        hub.download_file(bad, "config.json", endpoint=f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../x", "a//b", "a\\b"])
def test_invalid_file_path(isolated_hf_home: Path, bad: str) -> None:
    with pytest.raises(HubError, match="not a valid file path"):
        hub.download_file(REPO, bad, endpoint=f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize("value", ["zero", "0", "-3", "inf"])
def test_bad_timeout_setting(isolated_hf_home: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(hub.TIMEOUT_ENV, value)
    with pytest.raises(HubError, match=hub.TIMEOUT_ENV):
        hub.download_file(REPO, "config.json", endpoint=f"http://127.0.0.1:{free_port()}")


# --------------------------------------------------------------------------------------------------
# revisions
# --------------------------------------------------------------------------------------------------
def test_pinned_revision_versus_moving_main(hub_server: HubServer) -> None:
    first = hub_server.publish(REPO, {"config.json": b'{"v": 1}'})
    old = hub.download_file(REPO, "config.json")
    second = hub_server.publish(REPO, {"config.json": b'{"v": 2}'})

    new = hub.download_file(REPO, "config.json")
    pinned = hub.download_file(REPO, "config.json", revision=first)

    assert first != second and hub_server.head(REPO) == second
    assert new.read_bytes() == b'{"v": 2}' and hub.resolved_revision(new) == second
    assert pinned.read_bytes() == b'{"v": 1}' and hub.resolved_revision(pinned) == first
    assert pinned == old
    # A cached commit needs no request at all, even with the Hub gone.
    hub_server.stop()
    t0 = time.perf_counter()
    assert hub.download_file(REPO, "config.json", revision=first).read_bytes() == b'{"v": 1}'
    assert time.perf_counter() - t0 < 1.0


def test_branch_publish_and_replace(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"main"})
    hub_server.publish(REPO, {"model.safetensors": b"dev"}, revision="dev")
    hub_server.publish(REPO, {"only.json": b"{}"}, replace=True)

    assert hub.list_repo_files(REPO, revision="dev") == ["config.json", "model.safetensors"]
    assert hub.download_file(REPO, "model.safetensors", revision="dev").read_bytes() == b"dev"
    assert hub.list_repo_files(REPO) == ["only.json"]


# --------------------------------------------------------------------------------------------------
# Hub down, hanging, offline
# --------------------------------------------------------------------------------------------------
def test_cached_file_served_within_a_second_when_the_hub_is_down(
    hub_server: HubServer, caplog: pytest.LogCaptureFixture
) -> None:
    sha = hub_server.publish(REPO, {"config.json": CONFIG})
    first = hub.download_file(REPO, "config.json")
    hub_server.stop()

    with caplog.at_level(logging.WARNING, logger="gan_studio.hub"):
        t0 = time.perf_counter()
        again = hub.download_file(REPO, "config.json")
        elapsed = time.perf_counter() - t0

    assert again == first and again.read_bytes() == CONFIG and hub.resolved_revision(again) == sha
    assert elapsed < 1.0, elapsed
    assert any("cached copy" in r.getMessage() and hub_server.url in r.getMessage() for r in caplog.records)


def test_uncached_file_with_the_hub_down_fails_fast(hub_server: HubServer, isolated_hf_home: Path) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w"})
    hub.download_file(REPO, "config.json")
    hub_server.stop()

    t0 = time.perf_counter()  # default timeout; huggingface_hub alone would retry for ~23 s
    with pytest.raises(HubError) as info:
        hub.download_file(REPO, "model.safetensors")
    elapsed = time.perf_counter() - t0

    assert elapsed < 12.0, elapsed
    message = str(info.value)
    assert hub_server.url in message and "could not be reached" in message
    assert f"{REPO}/model.safetensors" in message and "not in the cache" in message
    assert str(isolated_hf_home) in message
    assert not isinstance(info.value, HubEntryNotFoundError)


def test_hanging_hub_costs_one_timeout(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hub.TIMEOUT_ENV, "1")
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w"})
    cached = hub.download_file(REPO, "config.json")
    hub_server.hang = True
    hub_server.clear_log()

    t0 = time.perf_counter()
    with pytest.raises(HubError, match="could not be reached"):
        hub.download_file(REPO, "model.safetensors")
    uncached_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = hub.download_file(REPO, "config.json")
    cached_s = time.perf_counter() - t0

    assert hub_server.request_log, "the request should have reached the hanging server"
    assert 0.9 < uncached_s < 4.0, uncached_s
    assert again == cached and cached_s < 4.0, cached_s


def test_hanging_hub_bounds_listing_and_snapshot(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hub.TIMEOUT_ENV, "1")
    hub_server.publish(REPO, {"config.json": CONFIG})
    hub_server.hang = True

    for call in (lambda: hub.list_repo_files(REPO), lambda: hub.download_snapshot(REPO)):
        t0 = time.perf_counter()
        with pytest.raises(HubError, match="could not be reached"):
            call()
        assert time.perf_counter() - t0 < 4.0


def test_snapshot_and_listing_from_cache_when_the_hub_is_down(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w"})
    folder = hub.download_snapshot(REPO)
    hub_server.stop()

    t0 = time.perf_counter()
    assert hub.download_snapshot(REPO) == folder
    assert hub.list_repo_files(REPO) == ["config.json", "model.safetensors"]
    assert hub.file_exists(REPO, "model.safetensors") and not hub.file_exists(REPO, "pytorch_model.bin")
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(HubError, match="could not be reached"):
        hub.download_snapshot("other/repo")


def test_offline_env_read_at_call_time(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w"})
    cached = hub.download_file(REPO, "config.json")
    with pytest.raises(HubEntryNotFoundError):
        hub.download_file(REPO, "pytorch_model.bin")  # the cache now knows this one is missing
    hub_server.clear_log()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    t0 = time.perf_counter()
    assert hub.download_file(REPO, "config.json") == cached
    assert hub.list_repo_files(REPO) == ["config.json"]  # only what is cached
    assert hub.file_exists(REPO, "config.json") and not hub.file_exists(REPO, "pytorch_model.bin")
    with pytest.raises(HubEntryNotFoundError, match="pytorch_model.bin"):
        hub.download_file(REPO, "pytorch_model.bin")  # lets callers go on to the next candidate file
    with pytest.raises(HubError) as info:
        hub.download_file(REPO, "model.safetensors")
    assert time.perf_counter() - t0 < 1.0
    assert hub_server.request_log == []  # not one request
    assert not isinstance(info.value, HubEntryNotFoundError)
    assert "HF_HUB_OFFLINE" in str(info.value) and "not in the cache" in str(info.value)
    # offline=False overrides the environment
    assert hub.download_file(REPO, "model.safetensors", offline=False).read_bytes() == b"w"


def test_offline_snapshot(hub_server: HubServer) -> None:
    hub_server.publish(REPO, {"config.json": CONFIG, "model.safetensors": b"w"})
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        hub.download_snapshot(REPO, offline=True)
    folder = hub.download_snapshot(REPO, allow_patterns=["*.json"])
    hub_server.clear_log()

    assert hub.download_snapshot(REPO, allow_patterns=["*.json"], offline=True) == folder
    with pytest.raises(HubError, match="only partly in the cache"):
        hub.download_snapshot(REPO, offline=True)  # model.safetensors was never fetched
    assert hub_server.request_log == []


def test_huggingface_hub_imported_in_offline_mode(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE set when huggingface_hub was imported blocks the network for good: say so."""
    from huggingface_hub import constants

    hub_server.publish(REPO, {"config.json": CONFIG})
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(HubError, match="imported while HF_HUB_OFFLINE was set"):
        hub.download_file(REPO, "config.json")
    assert hub_server.request_log == []


def test_endpoint_that_is_not_a_hub(isolated_hf_home: Path, tmp_path: Path) -> None:
    """A plain web server at HF_ENDPOINT (no Hub headers) gives a message that points at the setting."""
    site = tmp_path / "site"
    (site / REPO / "resolve" / "main").mkdir(parents=True)
    (site / REPO / "resolve" / "main" / "config.json").write_bytes(CONFIG)
    handler = functools.partial(QuietHandler, directory=str(site))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            with pytest.raises(HubError, match="not like a Hugging Face Hub"):
                hub.download_file(REPO, "config.json", endpoint=endpoint)
            with pytest.raises(HubError, match="points at a Hugging Face Hub") as info:
                hub.download_file(REPO, "model.safetensors", endpoint=endpoint)  # plain 404
            assert not isinstance(info.value, HubEntryNotFoundError)
        finally:
            server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_stopped_server_refuses_connections(hub_server: HubServer) -> None:
    hub_server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", hub_server.port), timeout=2):
        pass


def test_resolved_revision_outside_the_cache(tmp_path: Path) -> None:
    assert hub.resolved_revision(tmp_path / "model.safetensors") is None
    assert hub.resolved_revision(tmp_path / "snapshots" / ("a" * 40) / "x") is None  # no models--… folder
    sha = "0123456789abcdef" * 2 + "01234567"
    assert hub.resolved_revision(tmp_path / "models--a--b" / "snapshots" / sha / "G" / "x.bin") == sha


def test_importing_the_module_does_not_import_huggingface_hub() -> None:
    code = "import sys, gan_studio.hub; print('huggingface_hub' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------------
# pickle-based weight files from the Hub go through gan_studio.weights
# --------------------------------------------------------------------------------------------------
class _Canary:
    """Unpickling this (fully) creates a folder: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # pickle protocol
        return (os.mkdir, (self.path,))


def _torch_bytes(obj: object) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_pickle_only_repo_loads_as_a_state_dict(hub_server: HubServer) -> None:
    import torch

    from gan_studio.weights import extract_state_dict, load_weight_file

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.ConvTranspose2d(8, 4, 4, bias=False), torch.nn.BatchNorm2d(4))
    state = module.state_dict()
    hub_server.publish(REPO, {"pytorch_model.bin": _torch_bytes({"state_dict": state}), "config.json": CONFIG})

    files = hub.list_repo_files(REPO)
    assert "model.safetensors" not in files and "pytorch_model.bin" in files
    path = hub.download_file(REPO, "pytorch_model.bin")
    loaded = extract_state_dict(load_weight_file(path), source=path.name)

    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize("payload", ["module", "reduce"])
def test_malicious_pickle_is_refused_and_runs_nothing(
    hub_server: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, payload: str
) -> None:
    import torch

    from gan_studio.weights import load_weight_file

    canary = tmp_path / "canary"
    if payload == "module":
        blob = _torch_bytes(torch.nn.Linear(2, 2))
    else:
        blob = _torch_bytes({"weight": torch.zeros(2), "evil": _Canary(canary)})
        # the payload is live: a full unpickle does run it
        probe = tmp_path / "probe.bin"
        probe.write_bytes(_torch_bytes({"evil": _Canary(tmp_path / "probe_canary")}))
        torch.load(probe, weights_only=False)
        assert (tmp_path / "probe_canary").is_dir()
    hub_server.publish(REPO, {"pytorch_model.bin": blob})
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

    path = hub.download_file(REPO, "pytorch_model.bin")
    with pytest.raises(CheckpointError) as info:
        load_weight_file(path)

    assert "pytorch_model.bin" in str(info.value)
    assert not canary.exists()
