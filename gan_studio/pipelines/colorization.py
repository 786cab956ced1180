"""Colorization: predict the chroma at the model's working size, keep the original luminance at
full resolution.

What the model reads and returns is its contract's business (``colour_input``, ``colour_output``,
``ab_scale``, ``square_input``; see :class:`~gan_studio.contract.Contract`); this module converts
to and from those conventions, so a DeOldify (grey RGB in, ImageNet-normalised RGB out), a DDColor
(grey RGB in, Lab a*b* out) and the embedded U-Net (``L/50 - 1`` in, ``ab/110`` out) all go through
the same path. The predicted chroma is scaled by ``strength`` (0: greyscale, 1: the model's colours,
> 1: more saturated) and joined with the full-resolution L*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..contract import Contract, Task
from ..errors import UserInputError, WrongTaskError
from ..models import LoadedModel
from .common import ProgressFn, Result, carries_alpha, provenance, report, working_size_for
from .translation import MAX_ASPECT

if TYPE_CHECKING:
    import torch

__all__ = ["MAX_STRENGTH", "colorize", "model_input", "predicted_ab"]

MAX_STRENGTH = 3.0  # colour strength above this only clips colours out of gamut
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def model_input(small_l: torch.Tensor, contract: Contract) -> torch.Tensor:
    """The colorizer's input from the normalised luminance ``L/50 - 1`` ``(N, 1, h, w)``, in the
    convention its contract's ``colour_input`` names."""
    import torch

    from ..image_io import denormalize_l, lab_to_rgb

    if contract.colour_input == "l":
        return small_l
    lab = torch.cat((denormalize_l(small_l), torch.zeros_like(small_l).repeat(1, 2, 1, 1)), dim=1)
    grey = lab_to_rgb(lab)  # the luminance drawn as a grey sRGB image in [0, 1]
    if contract.colour_input == "grey_rgb":
        return grey
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (grey - mean) / std


def predicted_ab(output: torch.Tensor, contract: Contract) -> torch.Tensor:
    """The model's output as the studio's normalised chroma ``(a*, b*) / 110`` ``(N, 2, h, w)``
    (:func:`~gan_studio.image_io.normalize_ab`), from the convention its contract's ``colour_output``
    names."""
    import torch

    from ..image_io import normalize_ab, rgb_to_lab

    if contract.colour_output == "ab":
        return output * (contract.ab_scale / 110.0)  # exact (× 1.0) for models trained on the studio's scale
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    rgb = (output * std + mean).clamp(0.0, 1.0)
    ab: torch.Tensor = normalize_ab(rgb_to_lab(rgb)[:, 1:])
    return ab


@carries_alpha
def colorize(
    loaded: LoadedModel,
    image: Any,
    *,
    working_size: int | None = None,
    strength: float = 1.0,
    progress: ProgressFn | None = None,
) -> Result:
    """Colorize ``image`` (any mode; its colour, if any, is discarded) at full resolution.

    ``working_size`` is the side the colour is predicted at (the short side, or the square's side for
    models that declare ``square_input``; DeOldify's ``render_factor`` × 16); ``strength`` scales the
    predicted chroma (0 … :data:`MAX_STRENGTH`).
    """
    import torch.nn.functional as F

    from ..image_io import merge_lab, resize, split_luminance
    from ..image_io import working_size as fit

    if loaded.task != Task.COLORIZATION:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not a colorizer")
    strength = float(strength)
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise UserInputError(f"colour strength must be between 0 and {MAX_STRENGTH:g}, got {strength:g}")
    contract = loaded.contract
    short = working_size_for(loaded, working_size or None)
    rgb = image.convert("RGB")
    report(progress, 0.1, "reading luminance")
    full_l = split_luminance(rgb)  # (1, 1, H, W), L/50 - 1
    multiple = contract.size_multiple
    if contract.square_input:
        side = max(multiple, short // multiple * multiple)
        size = (side, side)
    else:
        size = fit(rgb.width, rgb.height, target=short, multiple=multiple, side="short")
        if max(size) > MAX_ASPECT * short:  # extreme strips: bound the long side instead
            size = fit(rgb.width, rgb.height, target=MAX_ASPECT * short, multiple=multiple, side="long")
    small_l = split_luminance(resize(rgb, size))
    report(progress, 0.3, "predicting colour")
    with loaded.inference():
        x = model_input(small_l, contract)
        out = loaded.forward(x.to(loaded.device, loaded.dtype)).float().cpu()
    ab = predicted_ab(out, contract) * strength
    ab_full = F.interpolate(ab, size=full_l.shape[-2:], mode="bilinear", align_corners=False)
    result = merge_lab(full_l, ab_full)
    report(progress, 1.0, "done")
    params = provenance(loaded, working_size=short, input_size=list(image.size),
                        strength=None if strength == 1.0 else strength)
    grey = rgb.convert("L")  # what the colorizer sees: the luminance
    return Result(result, params, source=grey)
