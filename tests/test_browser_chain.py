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
from launched_app import launch_app
from PIL import Image

from gan_studio.cli import main
from gan_studio.metadata import chain_steps, read_metadata

CHROMIUM = "/usr/bin/chromium"
SERVED = "img[src*='/gradio_api/file=']"
ERROR_TOAST = "[data-testid='toast-body'].error"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, app_env: pytest.MonkeyPatch) -> Iterator[Any]:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    from playwright.sync_api import sync_playwright

    app = launch_app(tmp_path_factory.mktemp("browser_chain"), public=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            pg = context.new_page()
            pg.set_default_timeout(60_000)
            pg.goto(app.url, wait_until="load")
            pg.locator("#generate-button").wait_for()
            yield pg
            context.close()
            browser.close()
    finally:
        app.close()


def _no_error_toast(page: Any) -> None:
    toasts = page.locator(ERROR_TOAST)
    assert toasts.count() == 0, f"error toast shown: {toasts.first.inner_text()}"


def _download(page: Any, elem_id: str, folder: Path) -> Path:
    link = page.locator(f"#{elem_id} a[download]").first
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_generate_send_to_upscale_and_download_both_steps(page: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    page.get_by_role("tab", name="Generate").click()
    page.locator("#generate-button").click()
    page.locator(f"#generate-gallery {SERVED}").first.wait_for()
    page.locator(f"#generate-gallery {SERVED}").nth(1).click()  # select the second image: seed 43
    page.keyboard.press("Escape")
    page.locator("#generate-send-upscale").click()
    page.locator(f"#upscale-input {SERVED}").first.wait_for()  # the Upscale tab opened with the image
    assert page.get_by_role("tab", name="Upscale").get_attribute("aria-selected") == "true"
    page.locator("#upscale-button").click()
    page.locator(f"#upscale-slider {SERVED}").first.wait_for()
    _no_error_toast(page)
    png = _download(page, "upscale-download", tmp_path)
    with Image.open(png) as im:
        assert im.size == (64, 64)  # the 16 px DCGAN image, ×4 (the tab's default scale)
    steps = chain_steps(read_metadata(png))
    assert [(s["task"], s["model"]) for s in steps] == [("unconditional", "ui-dcgan"), ("upscale", "ui-upscaler")]
    assert steps[0]["seed"] == 43
    capsys.readouterr()
    assert main(["info", str(png)]) == 0
    info = capsys.readouterr().out
    assert "made in 2 steps:" in info and "1. unconditional with ui-dcgan" in info
    assert "2. upscale with ui-upscaler" in info
    assert "generate --model ui-dcgan --seed 43" in info and "upscale --model ui-upscaler" in info


def test_generate_send_to_colorize_then_translate_and_download_the_chain(page: Any, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    page.get_by_role("tab", name="Generate").click()
    page.locator("#generate-button").click()
    page.locator(f"#generate-gallery {SERVED}").first.wait_for()
    page.locator(f"#generate-gallery {SERVED}").nth(2).click()  # select the third image: seed 44
    page.keyboard.press("Escape")
    page.locator("#generate-send-colorize").click()
    page.locator(f"#colorize-input {SERVED}").first.wait_for()  # the Colorize tab opened with the image
    assert page.get_by_role("tab", name="Colorize").get_attribute("aria-selected") == "true"
    page.locator("#colorize-button").click()
    page.locator(f"#colorize-slider {SERVED}").first.wait_for()
    _no_error_toast(page)
    png = _download(page, "colorize-download", tmp_path)
    steps = chain_steps(read_metadata(png))
    assert [(s["task"], s["model"]) for s in steps] == [("unconditional", "ui-dcgan"), ("colorization", "ui-colorizer")]
    assert steps[0]["seed"] == 44
    capsys.readouterr()
    assert main(["info", str(png)]) == 0
    info = capsys.readouterr().out
    assert "made in 2 steps:" in info and "1. unconditional with ui-dcgan" in info
    assert "2. colorization with ui-colorizer" in info
    assert "generate --model ui-dcgan --seed 44" in info and "colorize --model ui-colorizer step-1.png" in info
    # and on: the colorized result to Translate
    page.locator("#colorize-send-translate").click()
    page.locator(f"#translate-input {SERVED}").first.wait_for()
    page.locator("#translate-button").click()
    page.locator("#translate-download").get_by_text(".png").first.wait_for()
    _no_error_toast(page)
    third = _download(page, "translate-download", tmp_path / "third")
    assert [s["model"] for s in chain_steps(read_metadata(third))] == ["ui-dcgan", "ui-colorizer", "ui-cyclegan"]
