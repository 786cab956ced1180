"""Shared pytest fixtures.

* ``isolated_hf_home``: a fresh, empty ``HF_HOME`` (and Hub cache) per test, network mode "online"
  as far as the environment says, no token, no telemetry.
* ``hub_server``: a running :class:`hub_server.HubServer` on 127.0.0.1 with ``HF_ENDPOINT``
  pointing at it (uses ``isolated_hf_home``, so cached files never leak between tests or into the
  user's cache: the Hub cache is keyed by repo id, not by endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

try:  # tests/ as a plain folder (pytest's default "prepend" import mode) or as a package
    from hub_server import HubServer
except ImportError:  # pragma: no cover - depends on how pytest is configured
    from tests.hub_server import HubServer


@pytest.fixture
def isolated_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``HF_HOME``/``HF_HUB_CACHE`` at an empty temporary folder and return ``HF_HOME``.

    Also clears ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` and tokens from the environment. Because
    huggingface_hub reads ``HF_HUB_OFFLINE`` when it is imported, its module-level flag is reset
    too (for this test only), so a suite run with ``HF_HUB_OFFLINE=1`` can still talk to the local
    test Hub; gan_studio.hub reads the environment at call time.
    """
    home = tmp_path / "hf_home"
    (home / "hub").mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                 "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # A proxy variable must not capture requests to the local test Hub.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    huggingface_hub.close_session()  # its shared HTTP client is rebuilt with the settings above
    return home


@pytest.fixture
def hub_server(isolated_hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A started :class:`HubServer` (no repos yet) with ``HF_ENDPOINT`` set to its URL; stopped after the test."""
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run the test with one torch thread, restoring the setting after it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
