"""A real headless Chromium plays the Train tab's 2-D playground: the plots change while it plays,
pause stops them, one step moves them once, a preset explains itself. Screenshots go to a temporary
folder, or to ``docs/screenshots/`` with ``GAN_STUDIO_SCREENSHOTS=docs/screenshots``.

Uses Debian's ``/usr/bin/chromium``; skipped with a reason without it. The studio runs over tiny
random-weight models (``ui_fixtures``): the playground needs none.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import browser_marks, chromium_page, needs_playwright, served_studio, shoot

PLANE = "#pg-plane img"
CURVES = "#pg-curves img"

pytestmark = browser_marks(pytest.mark.slow)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    needs_playwright()
    with (served_studio(tmp_path_factory.mktemp("browser_train")) as (url, _),
          chromium_page(url, viewport=(1280, 1150)) as pg):
        pg.get_by_role("tab", name="Train").click()
        pg.locator(PLANE).wait_for()
        yield pg


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
    shoot(page, "train-playground", full_page=False, settle_ms=0)

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
