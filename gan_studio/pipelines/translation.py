"""Image-to-image translation (CycleGAN, pix2pix): ``G(x)`` with ``x`` in [-1, 1].

The upload is already an RGB ``PIL.Image`` with EXIF orientation applied (``image_io.load_image``).
It is resized so its short side is the working size (keeping the aspect ratio, sides rounded to
what the architecture needs), translated, and resized back to the input's size.
"""

from __future__ import annotations

from typing import Any

from ..errors import WrongTaskError
from ..models import LoadedModel
from ..registry import Task
from .common import ProgressFn, Result, provenance, report, seeded, size_multiple

DEFAULT_WORKING_SIZE = 256
MAX_ASPECT = 4  # the long side is at most this many times the working size
MIN_SIDE = 16  # sides are at least this (rounded up to the architecture's multiple)


def input_channels(loaded: LoadedModel) -> int:
    return int(loaded.kwargs.get("input_nc", 3))


def working_size_for(loaded: LoadedModel, requested: int | None) -> int:
    """The short side to translate at: the request, else the model's native size, else 256."""
    if requested is not None:
        if requested < 8:
            raise ValueError(f"working size must be at least 8 px, got {requested}")
        return int(requested)
    return int(loaded.spec.preprocess.get("working_size") or loaded.spec.image_size or DEFAULT_WORKING_SIZE)


def run_image_model(loaded: LoadedModel, image: Any, *, short_side: int, seed: int, extra: Any = None) -> Any:
    """Resize ``image`` to the working size, run the model (seeded), return the output PIL image
    at the working size."""
    import torch

    from ..image_io import pil_to_tensor, resize, tensor_to_pil, working_size

    multiple = size_multiple(loaded)
    size = working_size(image.width, image.height, target=short_side, multiple=multiple, side="short")
    if max(size) > MAX_ASPECT * short_side:  # a 10000×2 strip must not become a 1-megapixel-long tensor
        size = working_size(image.width, image.height, target=MAX_ASPECT * short_side, multiple=multiple, side="long")
    floor = -(-MIN_SIDE // multiple) * multiple  # padding layers need a few pixels at the bottleneck
    size = (max(size[0], floor), max(size[1], floor))
    x = pil_to_tensor(resize(image, size), channels=input_channels(loaded))
    x = x.to(device=loaded.device, dtype=loaded.dtype)
    with torch.inference_mode(), seeded(seed, loaded.device):
        y = loaded.module(x) if extra is None else loaded.module(x, extra.to(loaded.device, loaded.dtype))
    return tensor_to_pil(y.float().cpu())[0]


def translate(
    loaded: LoadedModel,
    image: Any,
    *,
    working_size: int | None = None,
    seed: int = 0,
    keep_size: bool = True,
    progress: ProgressFn | None = None,
) -> Result:
    """Translate one RGB image; ``loaded.variant`` is the direction (e.g. ``AtoB``)."""
    from ..image_io import resize

    if loaded.spec.task != Task.TRANSLATION:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not a translator")
    short = working_size_for(loaded, working_size)
    report(progress, 0.1, "translating")
    out = run_image_model(loaded, image.convert("RGB"), short_side=short, seed=seed)
    if keep_size and out.size != image.size:
        out = resize(out, image.size)
    report(progress, 1.0, "done")
    direction = loaded.spec.variant_labels.get(loaded.variant or "", None)
    params = provenance(loaded, seed=seed, working_size=short, direction=direction,
                        input_size=list(image.size))
    return Result(out.convert("RGB"), params)
