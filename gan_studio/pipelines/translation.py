"""Image-to-image translation (CycleGAN, pix2pix): ``G(x)`` with ``x`` in [-1, 1].

The upload is a ``PIL.Image`` with EXIF orientation applied (``image_io.load_image``): RGB, or RGBA
when it has transparency (``keep_alpha=True``). The model sees it composited onto white, and the
output gets the input's alpha back (:func:`~gan_studio.pipelines.common.carries_alpha`). It is resized so its short side is the working size (keeping the aspect ratio, sides rounded to
what the architecture needs), translated, and resized back to the input's size.

With ``full_resolution=True`` the photo is translated at its own pixel size instead, in
overlapping tiles blended seamlessly (:mod:`gan_studio.pipelines.tiling`; default 512 px tiles,
64 px overlap), with progress per tile and bounded memory.

Pre-processing a model entry can ask for (``preprocess`` in the catalogue / models TOML):

* ``working_size``: the default short side to translate at (else ``image_size``, else 256; see
  :func:`~gan_studio.pipelines.common.working_size_for`).
* ``center_crop_square``: crop the largest centred square first (AnimeGANv2's face-portrait
  models are trained on 512×512 face crops; the port's ``face2paint`` does the same). The
  ``center_crop`` argument overrides it per call (``True``/``False``); the result is the crop.
"""

from __future__ import annotations

from typing import Any

from ..contract import Task
from ..errors import WrongTaskError
from ..models import LoadedModel
from .common import ProgressFn, Result, carries_alpha, provenance, report, seeded, working_size_for
from .tiling import DEFAULT_OVERLAP, DEFAULT_TILE, translate_tiled

MAX_ASPECT = 4  # the long side is at most this many times the working size
MIN_SIDE = 16  # sides are at least this (rounded up to the architecture's multiple)


def run_image_model(loaded: LoadedModel, image: Any, *, short_side: int, seed: int, extra: Any = None) -> Any:
    """Resize ``image`` to the working size, run the model (seeded), return the output PIL image
    at the working size."""

    from ..image_io import pil_to_tensor, resize, tensor_to_pil, working_size

    multiple = loaded.contract.size_multiple
    size = working_size(image.width, image.height, target=short_side, multiple=multiple, side="short")
    if max(size) > MAX_ASPECT * short_side:  # a 10000×2 strip must not become a 1-megapixel-long tensor
        size = working_size(image.width, image.height, target=MAX_ASPECT * short_side, multiple=multiple, side="long")
    floor = -(-MIN_SIDE // multiple) * multiple  # padding layers need a few pixels at the bottleneck
    size = (max(size[0], floor), max(size[1], floor))
    x = pil_to_tensor(resize(image, size), channels=loaded.contract.in_channels)
    x = x.to(device=loaded.device, dtype=loaded.dtype)
    with loaded.inference(), seeded(seed, loaded.device):
        y = loaded.forward(x) if extra is None else loaded.forward(x, extra.to(loaded.device, loaded.dtype))
    return tensor_to_pil(y.float().cpu())[0]


def wants_center_crop(loaded: LoadedModel, center_crop: bool | None) -> bool:
    """Whether to crop the centred square first: the call's choice, else the model's ``center_crop_square``."""
    if center_crop is None:
        return bool(loaded.spec.preprocess.get("center_crop_square", False))
    return bool(center_crop)


def run_tiled(
    loaded: LoadedModel,
    image: Any,
    *,
    tile_size: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    seed: int = 0,
    batch_size: int = 1,
    norm_stats: str = "thumbnail",
    progress: ProgressFn | None = None,
) -> Any:
    """Translate ``image`` (PIL RGB) at its own size in blended tiles; returns a PIL image of the same size."""
    multiple = max(loaded.contract.size_multiple, 4)  # tiles at least a multiple of 4 (two ×2 levels)
    with loaded.inference(), seeded(seed, loaded.device):  # tiles run the eager module (thumbnail norms copy it)
        return translate_tiled(
            loaded.module, image, tile=tile_size, overlap=overlap, multiple=multiple,
            in_channels=loaded.contract.in_channels, device=loaded.device, dtype=loaded.dtype,
            batch_size=batch_size, norm_stats=norm_stats, progress=progress,
        )


@carries_alpha
def translate(
    loaded: LoadedModel,
    image: Any,
    *,
    working_size: int | None = None,
    seed: int = 0,
    keep_size: bool = True,
    progress: ProgressFn | None = None,
    full_resolution: bool = False,
    tile_size: int | None = None,
    overlap: int | None = None,
    center_crop: bool | None = None,
    batch_size: int = 1,
    norm_stats: str = "thumbnail",
) -> Result:
    """Translate one RGB image; ``loaded.variant`` is the direction (e.g. ``AtoB``).

    Default: at the working size (``working_size``, else the model's), resized back to the input
    size. ``full_resolution=True``: at the input's own size in ``tile_size`` px tiles (default
    512) overlapping by ``overlap`` px (default 64), ``batch_size`` tiles per forward pass;
    ``working_size`` is then not used; ``norm_stats`` says where InstanceNorm-like layers take
    their statistics from (``"thumbnail"`` of the whole photo, or each ``"tile"``; see
    :mod:`gan_studio.pipelines.tiling`). ``center_crop`` (default: the model's
    ``center_crop_square``) first crops the largest centred square; the result is that square.
    An input with transparency gives an ``RGBA`` result with its alpha (see
    :func:`~gan_studio.pipelines.common.carries_alpha`).
    """
    from ..image_io import center_crop_box, resize

    if loaded.task != Task.TRANSLATION:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not a translator")
    input_size = list(image.size)
    image = image if image.mode == "RGB" else image.convert("RGB")  # no 36 MB copy of a 12 MP photo
    cropped = wants_center_crop(loaded, center_crop)
    region = center_crop_box(image.size, min(image.size)) if cropped else None
    if region is not None:
        image = image.crop(region)
    tiled = bool(full_resolution) and min(image.size) >= MIN_SIDE
    short: int | None
    if tiled:
        short = None
        tile_size = DEFAULT_TILE if tile_size is None else int(tile_size)
        overlap = DEFAULT_OVERLAP if overlap is None else int(overlap)
        report(progress, 0.0, "translating at full resolution")
        out = run_tiled(loaded, image, tile_size=tile_size, overlap=overlap, seed=seed, batch_size=batch_size,
                        norm_stats=norm_stats, progress=progress)
    else:
        # A full-resolution request for an image under MIN_SIDE px runs in one pass at its own size.
        short = min(image.size) if full_resolution else working_size_for(loaded, working_size)
        tile_size = overlap = None
        report(progress, 0.1, "translating")
        out = run_image_model(loaded, image, short_side=short, seed=seed)
        if keep_size and out.size != image.size:
            out = resize(out, image.size)
    report(progress, 1.0, "done")
    direction = loaded.spec.variant_labels.get(loaded.variant or "", None)
    params = provenance(loaded, seed=seed, working_size=short, direction=direction, input_size=input_size,
                        center_crop=cropped if cropped or wants_center_crop(loaded, None) else None,
                        full_resolution=True if full_resolution else None,
                        tile_size=tile_size, overlap=overlap, norm_stats=norm_stats if tiled else None)
    out = out if out.mode == "RGB" else out.convert("RGB")
    return Result(out, params, source=image if image.size == out.size else resize(image, out.size), region=region)
