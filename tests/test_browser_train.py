"""A real headless Chromium plays the Train tab's 2-D playground: the plots change while it plays,
pause stops them, one step moves them once, a preset explains itself. Screenshots go to a temporary
folder, or to ``docs/screenshots/`` with ``GAN_STUDIO_SCREENSHOTS=docs/screenshots``.

Uses Debian's ``/usr/bin/chromium``; skipped with a reason without it. The studio runs over tiny
random-weight models (``ui_fixtures``): the playground needs none.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from ui_fixtures import free_port, make_ui_models, ui_registry
except ImportError:  # pragma: no cover
    from tests.ui_fixtures import free_port, make_ui_models, ui_registry

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / os.environ["GAN_STUDIO_SCREENSHOTS"] if os.environ.get("GAN_STUDIO_SCREENSHOTS") else \
    Path(tempfile.gettempdir()) / "gan_studio_screenshots"
TIMEOUT_MS = 60_000
PLANE = "#pg-plane img"
CURVES = "#pg-curves img"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    import torch
    from playwright.sync_api import sync_playwright

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo, launch_options

    root = tmp_path_factory.mktemp("browser_train")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                     "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                     "GRADIO_TEMP_DIR": str(root / "gradio_cache")}.items():
            mp.setenv(k, v)
        torch.set_num_threads(1)
        studio = Studio(device="cpu", registry=ui_registry(make_ui_models(root / "models")))
        demo = build_demo(studio, output_dir=root / "outputs")
        demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                    **launch_options())
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                context = browser.new_context(viewport={"width": 1280, "height": 1150}, device_scale_factor=1)
                pg = context.new_page()
                pg.set_default_timeout(TIMEOUT_MS)
                pg.goto(demo.local_url, wait_until="load")
                pg.get_by_role("tab", name="Train").click()
                pg.locator(PLANE).wait_for()
                yield pg
                context.close()
                browser.close()
        finally:
            demo.close()


def _src(page: Any, selector: str) -> str:
    return str(page.locator(selector).get_attribute("src"))


def _step(page: Any) -> int:
    found = re.search(r"step (\d+)", page.locator("#pg-status").inner_text())
    return int(found.group(1)) if found else -1


def _wait_for_change(page: Any, selector: str, old: str, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = _src(page, selector)
        if new != old:
            return new
        page.wait_for_timeout(200)
    raise AssertionError(f"{selector} did not change within {timeout_s:g} s")


def test_playing_changes_the_plots_and_pause_stops_them(page: Any):
    plane, curves = _src(page, PLANE), _src(page, CURVES)
    status = page.locator("#pg-status").inner_text()
    assert "step 0" in status
    page.locator("#pg-play").click()
    first = _wait_for_change(page, PLANE, plane)
    second = _wait_for_change(page, PLANE, first)  # it keeps moving: a live game, not one update
    assert second != plane
    _wait_for_change(page, CURVES, curves)
    deadline = time.monotonic() + 40  # let the game develop a little for the screenshot
    while time.monotonic() < deadline and _step(page) < 300:
        page.wait_for_timeout(500)
    assert _step(page) > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "train-playground.png"), full_page=False)

    page.locator("#pg-pause").click()
    page.wait_for_timeout(1500)  # a tick already under way may still land
    paused_plane, paused_status = _src(page, PLANE), page.locator("#pg-status").inner_text()
    assert paused_status != status
    page.wait_for_timeout(2500)
    assert _src(page, PLANE) == paused_plane, "the plane kept changing after pause"
    assert page.locator("#pg-status").inner_text() == paused_status

    page.locator("#pg-step").click()  # one step while paused: one more frame, then still
    stepped = _wait_for_change(page, PLANE, paused_plane)
    page.wait_for_timeout(1500)
    assert _src(page, PLANE) == stepped


def test_a_preset_sets_the_controls_and_explains_itself(page: Any):
    page.locator("#pg-preset input").click()
    page.get_by_role("option", name="mode collapse").click()
    page.get_by_text("learns ten times faster").wait_for()
    page.wait_for_timeout(500)
    assert "step 0" in page.locator("#pg-status").inner_text()
