"""Colorization: predict the chroma (Lab ``ab``) at model resolution, keep the original luminance
at full resolution."""

from __future__ import annotations

from typing import Any

from ..contract import Task
from ..errors import WrongTaskError
from ..models import LoadedModel
from .common import ProgressFn, Result, carries_alpha, provenance, report, working_size_for
from .translation import MAX_ASPECT


@carries_alpha
def colorize(
    loaded: LoadedModel,
    image: Any,
    *,
    working_size: int | None = None,
    progress: ProgressFn | None = None,
) -> Result:
    """Colorize ``image`` (any mode; its colour, if any, is discarded) at full resolution."""
    import torch.nn.functional as F

    from ..image_io import merge_lab, resize, split_luminance
    from ..image_io import working_size as fit

    if loaded.task != Task.COLORIZATION:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not a colorizer")
    short = working_size_for(loaded, working_size or None)
    rgb = image.convert("RGB")
    report(progress, 0.1, "reading luminance")
    full_l = split_luminance(rgb)  # (1, 1, H, W), L/50 - 1
    size = fit(rgb.width, rgb.height, target=short, multiple=loaded.contract.size_multiple, side="short")
    if max(size) > MAX_ASPECT * short:  # extreme strips: bound the long side instead
        size = fit(rgb.width, rgb.height, target=MAX_ASPECT * short, multiple=loaded.contract.size_multiple, side="long")
    small_l = split_luminance(resize(rgb, size))
    report(progress, 0.3, "predicting colour")
    with loaded.inference():
        ab = loaded.forward(small_l.to(loaded.device, loaded.dtype)).float().cpu()
    ab_full = F.interpolate(ab, size=full_l.shape[-2:], mode="bilinear", align_corners=False)
    out = merge_lab(full_l, ab_full)
    report(progress, 1.0, "done")
    params = provenance(loaded, working_size=short, input_size=list(image.size))
    grey = rgb.convert("L")  # what the colorizer sees: the luminance
    return Result(out, params, source=grey)
