"""A real headless Chromium drives the studio: every tab, one generation, one translation, one
colorization, the Inspect round trip, a readable error. Screenshots go to a temporary folder, or
to ``docs/screenshots/`` with ``GAN_STUDIO_SCREENSHOTS=docs/screenshots`` (how the docs' are made).

Uses Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it); skipped with a reason without it.
The studio runs over the embedded default models when they are all trained, otherwise over tiny
random-weight models (``ui_fixtures``), whose images are noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ERROR_TOAST,
    REPO,
    SERVED,
    browser_marks,
    chromium_page,
    needs_playwright,
    no_error_toast,
    served_studio,
    shoot,
)
from ui_fixtures import make_ui_models, ui_registry

EXAMPLES = REPO / "examples"

pytestmark = browser_marks()


def _tiny_stylegan2(folder: Path) -> Any:
    """A small random StyleGAN2 (64 px, NVIDIA layout) registered as ``tiny-stylegan2``."""
    import torch

    from gan_studio.architectures import StyleGAN2Generator
    from gan_studio.registry import spec_from_folder

    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=32, w_dim=32, img_resolution=64, mapping_kwargs={"num_layers": 2},
                           synthesis_kwargs={"channel_base": 512, "channel_max": 32, "conv_clamp": 256})
    G.save_pretrained(folder, meta={"license": "mit", "description": "a small random StyleGAN2 for the browser test"})
    return spec_from_folder(folder, model_id="tiny-stylegan2")


def _defaults_trained(registry: Any) -> bool:
    from gan_studio.studio import Studio
    from gan_studio.ui.models import weights_size

    studio = Studio(device="cpu", registry=registry)
    builtins = [s for s in registry if s.builtin]
    return bool(builtins) and all(weights_size(s, studio.weight_files(s)) != "missing" for s in builtins)


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    needs_playwright()
    from gan_studio.registry import load_registry

    root = tmp_path_factory.mktemp("browser")
    registry = load_registry()
    if not _defaults_trained(registry):
        registry = ui_registry(make_ui_models(root / "models"))
    registry.add(_tiny_stylegan2(root / "tiny-stylegan2"))  # for the Style tab (no StyleGAN is embedded)
    with served_studio(root, registry) as served:
        yield served


@pytest.fixture(scope="module")
def page(studio_url: tuple[str, Any]) -> Iterator[Any]:
    with chromium_page(studio_url[0], viewport=(1280, 900)) as pg:
        pg.locator("#generate-button").wait_for()
        yield pg


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(300)


def _upload(page: Any, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.locator(f"#{elem_id} img").first.wait_for()


def test_generate_tab(page: Any) -> None:
    _tab(page, "Generate")
    page.locator("#generate-button").click()
    images = page.locator(f"#generate-gallery {SERVED}")
    images.first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll(\"#generate-gallery img[src*='/gradio_api/file=']\").length >= 8")
    assert page.locator("#generate-gallery").get_by_text("seed 42").count() >= 1
    images.first.click()  # the parameters of the selected image appear
    page.locator("#generate-params").get_by_text("software").first.wait_for()
    page.keyboard.press("Escape")  # close the preview
    no_error_toast(page)
    shoot(page, "generate")
    # a (lazily cached) example runs, fills in the inputs and shows its results
    page.locator("#tab-generate [data-testid='dataset-cell-0-1']").click()
    page.wait_for_function("() => document.querySelector('#generate-seed input').value === '7'")
    page.locator("#generate-gallery").get_by_text("seed 14").wait_for()
    no_error_toast(page)


def test_generate_interpolation(page: Any) -> None:
    _tab(page, "Generate")
    page.get_by_label("Interpolation").check()
    page.locator("#interpolate-button").click()
    page.locator(f"#interpolate-gif {SERVED}").wait_for()
    assert ".gif" in page.locator(f"#interpolate-gif {SERVED}").get_attribute("src")
    assert page.locator("#generate-gallery").get_by_text("t = 1.000").count() >= 1
    no_error_toast(page)
    shoot(page, "generate-interpolation")
    page.get_by_label("Images").check()


def test_translate_tab(page: Any) -> None:
    _tab(page, "Translate")
    _upload(page, "translate-input", EXAMPLES / "chelsea.jpg")
    page.locator("#translate-button").click()
    page.locator(f"#translate-slider {SERVED}").first.wait_for()
    assert page.locator(f"#translate-slider {SERVED}").count() == 2  # before and after
    page.locator("#translate-download").get_by_text(".png").first.wait_for()
    no_error_toast(page)
    shoot(page, "translate")
    # a (lazily cached) example runs and shows its result
    page.locator("#tab-translate [data-testid='dataset-cell-1-0']").click()
    page.locator("#translate-slider img[src*='coffee']").first.wait_for()
    no_error_toast(page)


def test_colorize_tab_and_a_readable_error(page: Any) -> None:
    _tab(page, "Colorize")
    page.locator("#colorize-button").click()  # nothing uploaded yet
    toast = page.locator(ERROR_TOAST)
    toast.first.wait_for()
    assert "no image uploaded" in toast.first.inner_text()
    assert "Traceback" not in toast.first.inner_text()
    page.locator("[data-testid='toast-close']").first.click()
    toast.first.wait_for(state="detached")
    _upload(page, "colorize-input", EXAMPLES / "camera.jpg")
    page.locator("#colorize-button").click()
    page.locator(f"#colorize-slider {SERVED}").first.wait_for()
    no_error_toast(page)
    shoot(page, "colorize")


def test_models_tab(page: Any, studio_url: tuple[str, Any]) -> None:
    _tab(page, "Models")
    table = page.locator("#models-table")
    first_id = next(iter(studio_url[1].registry)).id
    table.get_by_text(first_id).first.wait_for()
    page.locator("#model-card").get_by_text("Registry entry").wait_for()
    no_error_toast(page)
    shoot(page, "models")


def test_inspect_tab_sends_parameters_back(page: Any, studio_url: tuple[str, Any], tmp_path: Path) -> None:
    from gan_studio.metadata import save_png
    from gan_studio.registry import Task

    studio = studio_url[1]
    model = next(s.id for s in studio.registry if s.task in (Task.UNCONDITIONAL, Task.CONDITIONAL))
    result = studio.generate(model, seed=1234567, n=1)[0]
    png = save_png(result.image, tmp_path / "made-by-the-studio.png", result.params)
    _tab(page, "Inspect")
    _upload(page, "inspect-input", png)
    page.locator("#inspect-button").click()
    page.locator("#inspect-summary").get_by_text("seed 1234567").wait_for()
    page.locator("#reproduce-button").wait_for()
    no_error_toast(page)
    shoot(page, "inspect")
    page.locator("#reproduce-button").click()
    page.locator("#generate-button").wait_for()  # the Generate tab is shown again
    seed_box = page.locator("#generate-seed input").first
    page.wait_for_function("(el) => el.value === '1234567'", arg=seed_box.element_handle())
    no_error_toast(page)


def _slider(page: Any, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def test_style_tab_mixing_a_direction_slider_and_a_projection(page: Any) -> None:
    _tab(page, "Style")
    page.locator("#style-mode").get_by_label("Mix styles").check()
    page.locator("#style-mix-button").click()
    page.locator(f"#style-result {SERVED}").first.wait_for(timeout=180_000)  # loads the model first
    page.wait_for_function("() => document.querySelectorAll(\"#style-gallery img[src*='/gradio_api/file=']\")"
                           ".length >= 9")  # 3 × 3 mixed cells
    no_error_toast(page)
    shoot(page, "style-mix")
    first = page.locator(f"#style-result {SERVED}").first.get_attribute("src")

    page.locator("#style-mode").get_by_label("Directions").check()
    _slider(page, "style-direction-1", 6)
    page.locator("#style-edit-button").click()
    page.wait_for_function("(before) => { const img = document.querySelector(\"#style-result img[src*='/gradio_api/file=']\");"
                           " return img && img.getAttribute('src') !== before && img.getAttribute('src').includes('edit'); }",
                           arg=first)
    no_error_toast(page)
    shoot(page, "style-directions")

    page.locator("#style-mode").get_by_label("Your photo").check()
    page.locator("#style-consent").get_by_text("agreed").wait_for()
    _upload(page, "style-photo", EXAMPLES / "chelsea.jpg")
    _slider(page, "style-steps", 20)
    page.locator("#style-project-button").click()
    page.wait_for_function("() => { const img = document.querySelector(\"#style-result img[src*='/gradio_api/file=']\");"
                           " return img && img.getAttribute('src').includes('projected'); }", timeout=180_000)
    no_error_toast(page)
    shoot(page, "style-projection")
