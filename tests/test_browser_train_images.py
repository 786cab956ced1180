"""A real headless Chromium trains on a tiny uploaded set: upload a zip (with three files that are
not usable images), start, watch the fixed-seed sample grid update, see the skipped files counted,
reload the page and find the run again, then "Use this model". Screenshots go to a temporary
folder, or to ``docs/screenshots/`` with ``GAN_STUDIO_SCREENSHOTS=docs/screenshots``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import browser_marks, chromium_page, needs_playwright, no_error_toast, served_studio, shoot
from shapes_data import shape_files, write_zip

GRID = "#train-grid img"
TIMEOUT_MS = 240_000

pytestmark = browser_marks(pytest.mark.slow, pytest.mark.timeout(900))


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    needs_playwright()
    with served_studio(tmp_path_factory.mktemp("browser-train")) as (url, _):
        yield url


def _set_number(page: Any, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_train_on_a_tiny_uploaded_set_until_the_grid_updates(studio_url: str, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "my-shapes.zip", shape_files(8, seed=5))
    with chromium_page(studio_url, viewport=(1280, 900), timeout_ms=TIMEOUT_MS) as page:
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
        no_error_toast(page)
        page.locator("#train-status").get_by_text("finished").first.wait_for()
        page.locator("#train-metrics").get_by_text("pixel diversity ratio").first.wait_for()
        # the loss plot draws its two curves in their colours (an empty first frame once left the
        # paths without a stroke: axes, no visible lines)
        page.wait_for_function("() => [...document.querySelectorAll('#train-losses .mark-line path')]"
                               ".filter(p => (p.getAttribute('d') || '').length > 20)"
                               ".map(p => p.getAttribute('stroke')).sort().join() === '#2563eb,#ea580c'")
        shoot(page, "train-images")

        page.reload(wait_until="load")  # the run is found again from the browser's storage
        page.get_by_role("tab", name="Train", exact=True).click()
        page.get_by_role("tab", name="Train on images").click()
        page.locator("#train-status").get_by_text("3 file(s) skipped").wait_for()
        page.locator("#train-status").get_by_text("finished").first.wait_for()
        page.locator(GRID).first.wait_for()
        page.locator("#train-use").click()
        page.locator("#train-note").get_by_text("Registered").wait_for()
        no_error_toast(page)
