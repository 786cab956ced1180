"""Every Hub catalogue entry, downloaded for real from huggingface.co, runs one inference.

Skipped unless ``RUN_ONLINE=1`` (it downloads about 3.5 GB on the first run; later runs use the
Hugging Face cache in ``HF_HOME``)::

    RUN_ONLINE=1 python -m pytest -m online tests/test_online.py

Every built-in Hub entry is listed (``_hub_sources``), the StyleGAN family's ``repo:name`` entries
(tests/test_hub_stylegan.py) included. The offline equivalence of each layout is in
tests/test_hub_catalogue.py and tests/test_hub_stylegan.py; this checks what only
the real files can show: that the pinned revisions and file names exist, that the published
weights load strictly into the catalogue's kwargs, and that the outputs are images, not noise of
a wrong wiring (finite, not constant, and different for different inputs).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from gan_studio.registry import Task, load_registry

pytestmark = [
    pytest.mark.online,
    pytest.mark.skipif(
        os.environ.get("RUN_ONLINE") != "1",
        reason="online test: set RUN_ONLINE=1 to download every Hub catalogue entry (~3.5 GB) from huggingface.co",
    ),
]


def _hub_sources() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for spec in load_registry().list():
        if not spec.builtin:
            continue
        if spec.variants:
            out += [(spec.id, name) for name, source in spec.variants.items() if source.is_hub]
        elif spec.source.is_hub:
            out.append((spec.id, None))
    return out


@pytest.fixture(scope="module")
def studio():
    from gan_studio.studio import Studio

    return Studio(device="cpu", half=False, cache_bytes=512 * 2**20)


@pytest.fixture(scope="module")
def photo():
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut())  # 512×512 RGB portrait, bundled with scikit-image


def _check_image(image, size: tuple[int, int] | None = None) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    assert np.isfinite(array).all()
    assert array.std() > 2.0, "a flat image: the weights did not load or the network is mis-wired"
    if size is not None:
        assert image.size == size
    return array


@pytest.mark.parametrize(("model_id", "variant"), _hub_sources(), ids=lambda v: str(v))
def test_catalogue_entry_downloads_and_runs(studio, photo, model_id, variant):
    spec = studio.registry.get(model_id)
    source = spec.source_for(variant)
    loaded = studio.load(model_id, variant)
    if source.revision and len(source.revision) == 40:
        assert loaded.revision == source.revision
    if spec.task in (Task.UNCONDITIONAL, Task.CONDITIONAL):
        label = "goldfish" if spec.labels and "goldfish" in spec.labels else None
        truncation = 0.4 if loaded.contract.takes_truncation_input else None
        first, second = studio.generate(model_id, seed=0, n=2, label=label, truncation=truncation)
        a = _check_image(first.image, (spec.image_size, spec.image_size))
        b = _check_image(second.image)
        assert np.abs(a - b).mean() > 1.0  # two seeds, two images
    elif spec.task == Task.TRANSLATION:
        result = studio.translate(model_id, photo, direction=variant, working_size=spec.image_size or 256, seed=0)
        out = _check_image(result.image, photo.size)
        assert np.abs(out - np.asarray(photo, dtype=np.float32)).mean() > 1.0  # it changed the photo
    elif spec.task == Task.MULTIDOMAIN:
        blond = _check_image(studio.translate_attributes(model_id, photo, [spec.labels[1]]).image)
        black = _check_image(studio.translate_attributes(model_id, photo, [spec.labels[0]]).image)
        assert np.abs(blond - black).mean() > 0.5  # the target attributes matter
    elif spec.task == Task.UPSCALE:
        from PIL import Image

        crop = photo.crop((160, 60, 288, 188))  # 128×128 of the face
        result = studio.upscale(model_id, crop, tile_size=96)  # tiled: 2×2 tiles
        scale = loaded.contract.scale
        out = _check_image(result.image, (128 * scale, 128 * scale))
        bicubic = np.asarray(crop.resize(result.image.size, Image.Resampling.BICUBIC), dtype=np.float32)
        assert np.abs(out - bicubic).mean() < 12.0  # the same picture, enlarged (not noise, not shifted)
    else:
        result = studio.colorize(model_id, photo.convert("L"))
        _check_image(result.image)


def test_the_perceptual_network_downloads_and_loads_strictly() -> None:
    """timm/vgg16.tv_in1k at the pinned revision: its features.* load into VGG16's layout strictly and
    tell two different images apart more than an image from itself."""
    import torch

    from gan_studio.perceptual import load_vgg16, perceptual_distance

    vgg = load_vgg16(download=True)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert float(perceptual_distance(vgg, x, x)) < 1e-6
    assert float(perceptual_distance(vgg, x, torch.rand(1, 3, 64, 64) * 2 - 1)) > 0.1


@pytest.mark.parametrize("model_id", ["spensercai/DeOldify:artistic", "spensercai/DeOldify:stable"])
def test_deoldify_files_name_only_allow_listed_globals_and_colour_a_photo(studio, photo, model_id):
    """The real fastai pickles: every global they name is on gan_studio.fastai_pickle's allow-list, they
    hold fastai's {'model', 'opt'} (or a bare state dict), and the colorized photo has colour."""
    from skimage.color import rgb2lab

    from gan_studio import hub
    from gan_studio.fastai_pickle import ALLOWED_GLOBALS, load_fastai_checkpoint, scan_globals

    source = studio.registry.get(model_id).source
    path = hub.download_file(source.repo_id, source.files[0], revision=source.revision)
    assert scan_globals(path) <= ALLOWED_GLOBALS
    checkpoint = load_fastai_checkpoint(path)
    assert set(checkpoint) == {"model", "opt"} or all(isinstance(k, str) for k in checkpoint)
    result = studio.colorize(model_id, photo.convert("L"), working_size=16 * 21)
    lab = rgb2lab(_check_image(result.image, photo.size) / 255.0)
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 3.0  # not grey
