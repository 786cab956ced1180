"""What the Playwright browser tests share (test_browser, test_browser_chain, test_browser_train,
test_browser_train_images): Debian's ``/usr/bin/chromium``, the marks that skip without it, the
studio served on 127.0.0.1, a headless Chromium page on it, the common selectors and checks.

Screenshots go to a temporary folder, or to ``docs/screenshots/`` with
``GAN_STUDIO_SCREENSHOTS=docs/screenshots`` (how the docs' are made).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import free_port, make_ui_models, ui_registry

CHROMIUM = "/usr/bin/chromium"
#: headless in a container: no sandbox, no GPU, no background requests out
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / os.environ["GAN_STUDIO_SCREENSHOTS"] if os.environ.get("GAN_STUDIO_SCREENSHOTS") else \
    Path(tempfile.gettempdir()) / "gan_studio_screenshots"
#: an image the studio serves (a result, not an icon)
SERVED = "img[src*='/gradio_api/file=']"
ERROR_TOAST = "[data-testid='toast-body'].error"
TIMEOUT_MS = 60_000


def browser_marks(*extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """A browser test module's ``pytestmark``: ``browser``, then ``extra`` (``slow``, a ``timeout``),
    gradio's pandas warnings ignored, and a skip with the reason when Chromium is missing."""
    return [
        pytest.mark.browser,
        *extra,
        # gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
        pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
        pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
    ]


def needs_playwright() -> None:
    """Skips the test (with how to install it) when Playwright is missing."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@contextmanager
def served_studio(root: Path, registry: Any = None) -> Iterator[tuple[str, Any]]:
    """The studio over ``registry`` (default: the tiny UI models, written under ``root``) launched on
    a free port of 127.0.0.1, offline, no analytics, no proxy, one torch thread, Gradio's files under
    ``root``; yields its URL and the :class:`~gan_studio.studio.Studio`, and closes it after."""
    import torch

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo, launch_options

    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                     "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                     "GRADIO_TEMP_DIR": str(root / "gradio_cache")}.items():
            mp.setenv(k, v)
        torch.set_num_threads(1)
        if registry is None:
            registry = ui_registry(make_ui_models(root / "models"))
        studio = Studio(device="cpu", registry=registry)
        demo = build_demo(studio, output_dir=root / "outputs")
        demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                    **launch_options())
        try:
            yield demo.local_url, studio
        finally:
            demo.close()


@contextmanager
def chromium_page(url: str, *, viewport: tuple[int, int] = (1280, 900), timeout_ms: int = TIMEOUT_MS,
                  accept_downloads: bool = True) -> Iterator[Any]:
    """A page of a headless Chromium (``viewport`` = width, height in CSS pixels, scale 1; every wait
    ``timeout_ms`` unless told) that has loaded ``url``; the browser closes after."""
    needs_playwright()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                          device_scale_factor=1, accept_downloads=accept_downloads)
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.goto(url, wait_until="load")
            yield page
            context.close()
        finally:
            browser.close()


def no_error_toast(page: Any) -> None:
    """Asserts that no error toast is shown (its text in the message when one is)."""
    toasts = page.locator(ERROR_TOAST)
    assert toasts.count() == 0, f"error toast shown: {toasts.first.inner_text()}"


def shoot(page: Any, name: str, *, full_page: bool = True, settle_ms: int = 400) -> None:
    """A screenshot ``name``.png in :data:`SCREENSHOTS`, after ``settle_ms`` for transitions to settle."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if settle_ms:
        page.wait_for_timeout(settle_ms)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
