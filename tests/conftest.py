"""Shared pytest fixtures.

* ``isolated_hf_home``: a fresh, empty ``HF_HOME`` (and Hub cache) per test, network mode "online"
  as far as the environment says, no token, no telemetry.
* ``hub_server``: a running :class:`hub_server.HubServer` on 127.0.0.1 with ``HF_ENDPOINT``
  pointing at it (uses ``isolated_hf_home``, so cached files never leak between tests or into the
  user's cache: the Hub cache is keyed by repo id, not by endpoint).
* ``models_toml``: the tiny models of every task (``tiny_models``) and a models TOML naming them,
  written once per test module.
* ``app_env``: the environment of a launched studio (:mod:`launched_app`), per test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/ has no __init__.py: pytest's default "prepend" import mode puts it on sys.path before it
# imports this file, so the helper modules next to it import by their plain names.
from hub_server import HubServer
from launched_app import APP_ENV
from tiny_models import make_models_toml


@pytest.fixture(scope="session", autouse=True)
def local_signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The studio's local C2PA key for this test session: made in a temporary folder, never in the
    user's cache (gan_studio.credentials.signing); launched apps inherit it through the environment."""
    folder = tmp_path_factory.mktemp("c2pa_credentials")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_STUDIO_CREDENTIALS_DIR", str(folder))
        mp.delenv("GAN_STUDIO_C2PA_CERT", raising=False)
        mp.delenv("GAN_STUDIO_C2PA_KEY", raising=False)
        yield folder


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


@pytest.fixture(scope="module")
def models_toml(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The path of a models TOML listing every tiny model (written once per test module)."""
    return str(make_models_toml(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def app_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pytest.MonkeyPatch]:
    """:data:`launched_app.APP_ENV`, a fresh ``GRADIO_TEMP_DIR`` (not /tmp/gradio) and the default
    time limit, for the module's launched apps; yields the MonkeyPatch so a module can add to it."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in APP_ENV.items():
            mp.setenv(key, value)
        mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio_cache")))
        mp.delenv("GAN_STUDIO_TIME_LIMIT", raising=False)
        yield mp


@pytest.fixture(scope="module")
def catalogue() -> Any:
    """The built-in registry (catalogue + embedded models), read once per test module."""
    from gan_studio.registry import load_registry

    return load_registry()
