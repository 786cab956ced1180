"""Multi-domain translation (StarGAN): ``G(x, c_target)`` with the target attributes as toggles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..contract import Task
from ..errors import UserInputError, WrongTaskError
from ..models import LoadedModel
from ..registry import ModelSpec
from .common import ProgressFn, Result, carries_alpha, provenance, report, working_size_for
from .translation import run_image_model


def target_vector(spec: ModelSpec, attributes: Iterable[str] | Mapping[str, bool]) -> list[float]:
    """The 0/1 target vector for the attributes switched on; enforces the exclusive groups."""
    if isinstance(attributes, Mapping):
        on = [name for name, value in attributes.items() if value]
    else:
        on = list(attributes)
    names = list(spec.labels)
    unknown = [a for a in on if a not in names]
    if unknown:
        raise UserInputError(f"unknown attribute(s) {unknown} for model {spec.id!r}; choose from: {', '.join(names)}")
    for group in spec.exclusive:
        chosen = [a for a in on if a in group]
        if len(chosen) > 1:
            raise UserInputError(
                f"attributes {chosen} of model {spec.id!r} exclude each other; pick at most one of {list(group)}"
            )
    return [1.0 if name in on else 0.0 for name in names]


def preprocess_region(spec: ModelSpec, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box :func:`preprocess` crops from an image of ``size`` (``(width, height)``), or None."""
    from ..image_io import center_crop_box

    crop = spec.preprocess.get("center_crop")
    if not crop:
        return None
    return center_crop_box(size, min(int(crop), size[0], size[1]))


def preprocess(spec: ModelSpec, image: Any) -> Any:
    """The model's own input preparation, e.g. StarGAN CelebA's centre-crop 178 then resize 128."""
    region = preprocess_region(spec, image.size)
    return image if region is None else image.crop(region)


@carries_alpha
def translate_attributes(
    loaded: LoadedModel,
    image: Any,
    attributes: Iterable[str] | Mapping[str, bool],
    *,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> Result:
    """Give ``image`` the target ``attributes`` (names from the model's labels); an input with
    transparency gives an ``RGBA`` result with its alpha (see
    :func:`~gan_studio.pipelines.common.carries_alpha`)."""
    import torch

    from ..image_io import resize

    spec = loaded.spec
    if loaded.task != Task.MULTIDOMAIN:
        raise WrongTaskError(f"model {spec.id!r} is a {spec.task.value} model, not a multi-domain translator")
    vector = target_vector(spec, attributes)
    report(progress, 0.1, "translating")
    prepared = preprocess(spec, image.convert("RGB"))
    short = int(spec.preprocess.get("resize") or working_size_for(loaded))
    c = torch.tensor([vector], dtype=torch.float32)
    out = run_image_model(loaded, prepared, short_side=short, seed=seed, extra=c)
    report(progress, 1.0, "done")
    chosen = [n for n, v in zip(spec.labels, vector) if v]
    params = provenance(loaded, seed=seed, attributes=chosen, input_size=list(image.size))
    out = out.convert("RGB")
    return Result(out, params, source=prepared if prepared.size == out.size else resize(prepared, out.size),
                  region=preprocess_region(spec, image.size))
