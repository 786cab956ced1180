"""The chain in a real headless Chromium: generate, send the image to Upscale ("Send to Upscale"),
run it there, download the PNG, and ``python -m gan_studio info`` lists both steps; and generate →
Colorize → Translate (three steps). Over the tiny UI models
(``ui_fixtures``), whose images are noise. Uses Debian's ``/usr/bin/chromium``; skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import SERVED, browser_marks, chromium_page, needs_playwright, no_error_toast
from launched_app import launch_app
from PIL import Image

from gan_studio.cli import main
from gan_studio.metadata import chain_steps, read_metadata

pytestmark = browser_marks(pytest.mark.slow)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, app_env: pytest.MonkeyPatch) -> Iterator[Any]:
    needs_playwright()
    app = launch_app(tmp_path_factory.mktemp("browser_chain"), public=False)
    try:
        with chromium_page(app.url, viewport=(1280, 900), accept_downloads=True) as pg:
            pg.locator("#generate-button").wait_for()
            yield pg
    finally:
        app.close()


def _download(page: Any, elem_id: str, folder: Path) -> Path:
    link = page.locator(f"#{elem_id} a[download]").first
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def _send_generated(page: Any, nth: int, tab: str) -> None:
    """Generate, select the ``nth`` image (0-based: seed 42 + nth), "Send to ``tab``" and wait for the
    tab to open with the image."""
    page.get_by_role("tab", name="Generate").click()
    page.locator("#generate-button").click()
    page.locator(f"#generate-gallery {SERVED}").first.wait_for()
    page.locator(f"#generate-gallery {SERVED}").nth(nth).click()
    page.keyboard.press("Escape")
    page.locator(f"#generate-send-{tab.lower()}").click()
    page.locator(f"#{tab.lower()}-input {SERVED}").first.wait_for()
    assert page.get_by_role("tab", name=tab).get_attribute("aria-selected") == "true"


def _run_and_download(page: Any, tab: str, folder: Path) -> Path:
    """Run ``tab`` (its slider shows the result), check no error shows and download its PNG."""
    page.locator(f"#{tab}-button").click()
    page.locator(f"#{tab}-slider {SERVED}").first.wait_for()
    no_error_toast(page)
    return _download(page, f"{tab}-download", folder)


def _check_two_steps(png: Path, seed: int, task: str, model: str, command: str,
                     capsys: pytest.CaptureFixture[str]) -> None:
    """``png`` records two steps, generated with ui-dcgan at ``seed`` then ``task`` with ``model``, and
    ``python -m gan_studio info`` lists both with the commands that redo them (``command`` the second)."""
    steps = chain_steps(read_metadata(png))
    assert [(s["task"], s["model"]) for s in steps] == [("unconditional", "ui-dcgan"), (task, model)]
    assert steps[0]["seed"] == seed
    capsys.readouterr()
    assert main(["info", str(png)]) == 0
    info = capsys.readouterr().out
    assert "made in 2 steps:" in info and "1. unconditional with ui-dcgan" in info
    assert f"2. {task} with {model}" in info
    assert f"generate --model ui-dcgan --seed {seed}" in info and command in info


def test_generate_send_to_upscale_and_download_both_steps(page: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _send_generated(page, 1, "Upscale")  # the second image: seed 43
    png = _run_and_download(page, "upscale", tmp_path)
    with Image.open(png) as im:
        assert im.size == (64, 64)  # the 16 px DCGAN image, ×4 (the tab's default scale)
    _check_two_steps(png, 43, "upscale", "ui-upscaler", "upscale --model ui-upscaler", capsys)


def test_generate_send_to_colorize_then_translate_and_download_the_chain(page: Any, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _send_generated(page, 2, "Colorize")  # the third image: seed 44
    png = _run_and_download(page, "colorize", tmp_path)
    _check_two_steps(png, 44, "colorization", "ui-colorizer", "colorize --model ui-colorizer step-1.png", capsys)
    # and on: the colorized result to Translate
    page.locator("#colorize-send-translate").click()
    page.locator(f"#translate-input {SERVED}").first.wait_for()
    page.locator("#translate-button").click()
    page.locator("#translate-download").get_by_text(".png").first.wait_for()
    no_error_toast(page)
    third = _download(page, "translate-download", tmp_path / "third")
    assert [s["model"] for s in chain_steps(read_metadata(third))] == ["ui-dcgan", "ui-colorizer", "ui-cyclegan"]
