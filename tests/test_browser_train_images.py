"""A real headless Chromium trains on a tiny uploaded set: upload a zip (with three files that are
not usable images), start, watch the fixed-seed sample grid update, see the skipped files counted,
reload the page and find the run again, then "Use this model". Screenshots go to a temporary
folder, or to ``docs/screenshots/`` with ``GAN_STUDIO_SCREENSHOTS=docs/screenshots``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shapes_data import shape_files, write_zip
from ui_fixtures import free_port, make_ui_models, ui_registry

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / os.environ["GAN_STUDIO_SCREENSHOTS"] if os.environ.get("GAN_STUDIO_SCREENSHOTS") else \
    Path(tempfile.gettempdir()) / "gan_studio_screenshots"
ERROR_TOAST = "[data-testid='toast-body'].error"
GRID = "#train-grid img"
TIMEOUT_MS = 240_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    import torch

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo, launch_options

    root = tmp_path_factory.mktemp("browser-train")
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
            yield demo.local_url
        finally:
            demo.close()


def _shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _set_number(page: Any, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_train_on_a_tiny_uploaded_set_until_the_grid_updates(studio_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    archive = write_zip(tmp_path / "my-shapes.zip", shape_files(8, seed=5))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(studio_url, wait_until="load")
        page.get_by_role("tab", name="Train", exact=True).click()
        page.get_by_role("tab", name="Train on images").click()
        page.get_by_label("My images").check()
        page.locator("#train-files input[type=file]").set_input_files(str(archive))
        page.locator("#train-files").get_by_text("my-shapes").first.wait_for()  # shown as stem + extension
        _set_number(page, "train-steps", 60)
        _set_number(page, "train-batch", 16)
        page.locator("#train-start").click()

        page.locator(GRID).first.wait_for()  # the grid of the untrained generator (step 0)
        first = page.locator(GRID).first.get_attribute("src")
        page.wait_for_function(  # … until the grid updates
            "(old) => { const i = document.querySelector('#train-grid img'); return i && i.src !== old; }",
            arg=first)
        status = page.locator("#train-status")
        status.get_by_text("3 file(s) skipped").wait_for()
        assert "circles, squares, triangles" in status.inner_text()
        assert page.locator(ERROR_TOAST).count() == 0
        page.locator("#train-status").get_by_text("finished").first.wait_for()
        page.locator("#train-metrics").get_by_text("pixel diversity ratio").first.wait_for()
        # the loss plot draws its two curves in their colours (an empty first frame once left the
        # paths without a stroke: axes, no visible lines)
        page.wait_for_function("() => [...document.querySelectorAll('#train-losses .mark-line path')]"
                               ".filter(p => (p.getAttribute('d') || '').length > 20)"
                               ".map(p => p.getAttribute('stroke')).sort().join() === '#2563eb,#ea580c'")
        _shoot(page, "train-images")

        page.reload(wait_until="load")  # the run is found again from the browser's storage
        page.get_by_role("tab", name="Train", exact=True).click()
        page.get_by_role("tab", name="Train on images").click()
        page.locator("#train-status").get_by_text("3 file(s) skipped").wait_for()
        page.locator("#train-status").get_by_text("finished").first.wait_for()
        page.locator(GRID).first.wait_for()
        page.locator("#train-use").click()
        page.locator("#train-note").get_by_text("Registered").wait_for()
        assert page.locator(ERROR_TOAST).count() == 0
        context.close()
        browser.close()
