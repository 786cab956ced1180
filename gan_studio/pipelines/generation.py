"""Generation: images from seeds (unconditional and class-conditional), and latent interpolation.

Seeds are per image: image ``i`` of a call with ``seed=s`` uses seed ``s + i``, and its latent is
drawn on a CPU ``torch.Generator``, so the same seed gives the same image whatever the batch size
and whatever the device.
"""

from __future__ import annotations

from typing import Any

from ..contract import GENERATION_TASKS, Task
from ..errors import UserInputError, WrongTaskError
from ..models import LoadedModel
from .common import ProgressFn, Result, provenance, report, run_batches, seeded

MAX_SEED = 2**63 - 1


def latent_dim(loaded: LoadedModel) -> int:
    """The length of ``z`` for this generator (a diffusion model's initial noise: C·H·W)."""
    nz = loaded.contract.latent_dim
    if nz <= 0:
        raise WrongTaskError(f"model {loaded.spec.id!r} ({loaded.architecture}) takes no latent; it is not a generator")
    return nz


def draw_latent(seed: int, nz: int, truncation: float | None = None) -> Any:
    """``z`` of shape (nz,) from ``seed`` on a CPU generator; with ``truncation`` a truncated normal.

    Truncation resamples every entry with ``|z| > truncation`` (the truncation trick), deterministic
    for a given seed.
    """
    import torch

    if not 0 <= seed <= MAX_SEED:
        raise UserInputError(f"seed {seed} out of range; use 0 … {MAX_SEED}")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    z = torch.randn(nz, generator=gen)
    if truncation is not None:
        if truncation <= 0:
            raise UserInputError(f"truncation must be > 0, got {truncation}")
        for _ in range(1000):
            bad = z.abs() > truncation
            if not bool(bad.any()):
                break
            z = torch.where(bad, torch.randn(nz, generator=gen), z)
        z = z.clamp(-truncation, truncation)
    return z


def latent_for(loaded: LoadedModel, seed: int, nz: int, truncation: float | None) -> Any:
    """The latent for one image, as the contract's truncation kind says: ``"input"`` (BigGAN) gets
    ``truncation * truncnorm(-2, 2)`` as its reference code draws it; ``"w"`` (StyleGAN) a plain
    normal z, the truncation ψ being applied in W by the model; ``"trick"`` the truncation trick."""
    kind = loaded.contract.truncation
    if kind == "input":
        t = 1.0 if truncation is None else float(truncation)
        if not 0 < t <= 1:
            raise UserInputError(f"truncation for {loaded.spec.id!r} must be in (0, 1], got {truncation}")
        return draw_latent(seed, nz, 2.0) * t
    if kind == "w":
        if truncation is not None and not -1 <= float(truncation) <= 2:
            raise UserInputError(f"truncation ψ for {loaded.spec.id!r} must be in [-1, 2] (1 = none), got {truncation}")
        return draw_latent(seed, nz)
    return draw_latent(seed, nz, truncation)


def resolve_label(loaded: LoadedModel, label: int | str | None) -> int | None:
    """A class index from an index or a class name; ``None`` means a class drawn from the seed."""
    spec = loaded.spec
    if loaded.task != Task.CONDITIONAL:
        if label not in (None, ""):
            raise WrongTaskError(f"model {spec.id!r} is unconditional; it takes no class (got {label!r})")
        return None
    if label in (None, ""):
        return None
    names = list(spec.labels)
    num_classes = num_classes_of(loaded)
    if isinstance(label, str) and label in names:
        return names.index(label)
    try:
        index = int(label)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < num_classes:
        shown = ", ".join(names) if names else f"0 … {num_classes - 1}"
        raise UserInputError(f"unknown class {label!r} for model {spec.id!r}; choose one of: {shown}")
    return index


def num_classes_of(loaded: LoadedModel) -> int:
    """The number of classes a conditional generator takes (its contract's, else its class names')."""
    return loaded.contract.num_classes or len(loaded.spec.labels) or 1


def class_for_seed(seed: int, num_classes: int) -> int:
    """The class a conditional generator draws for ``seed`` when the call names none."""
    import torch

    gen = torch.Generator(device="cpu").manual_seed(int(seed) ^ 0x5EED)
    return int(torch.randint(num_classes, (1,), generator=gen))


def check_steps(loaded: LoadedModel, steps: int | None, truncation: float | None = None) -> int | None:
    """The effective sampling steps for ``loaded`` (its default when ``steps`` is None); None for
    one-pass generators, which take no steps. Models that take steps take no truncation."""
    contract = loaded.contract
    if not contract.steps:
        if steps is not None:
            raise UserInputError(
                f"model {loaded.spec.id!r} ({loaded.architecture}) makes an image in one forward pass; "
                f"steps (got {steps!r}) apply to diffusion models only"
            )
        return None
    if contract.truncation is None and truncation is not None:
        raise UserInputError(
            f"model {loaded.spec.id!r} is a diffusion model; truncation (got {truncation!r}) applies to GAN latents only"
        )
    return contract.default_steps if steps is None else valid_steps(steps, contract.max_steps)


def valid_steps(steps: Any, limit: int) -> int:
    """A valid number of sampling steps (a whole number 1 … ``limit``), or :class:`UserInputError`."""
    if isinstance(steps, bool):
        raise UserInputError(f"steps must be a whole number between 1 and {limit}, got {steps!r}")
    try:
        value = float(steps)
    except (TypeError, ValueError):
        raise UserInputError(f"steps must be a whole number between 1 and {limit}, got {steps!r}") from None
    if not value.is_integer() or not 1 <= value <= limit:
        raise UserInputError(f"steps must be a whole number between 1 and {limit}, got {steps!r}")
    return int(value)


def style_options(loaded: LoadedModel, noise_mode: str | None, truncation_cutoff: int | None,
                  translate: tuple[float, float] | None = None, rotate: float | None = None) -> dict[str, Any]:
    """The forward keyword arguments of a style-based generator's controls, checked against its
    contract: ``noise_mode`` (one of its ``noise_modes``), ``truncation_cutoff`` (1 … num_ws), and
    the input's ``translate`` (x, y in output widths) and ``rotate`` (degrees) as ``transform``."""
    contract = loaded.contract
    out: dict[str, Any] = {}
    if translate is not None or rotate is not None:
        if not contract.input_transform:
            raise UserInputError(f"model {loaded.spec.id!r} ({loaded.architecture}) has no input transform; "
                                 f"translate and rotate apply to StyleGAN3")
        tx, ty = translate or (0.0, 0.0)
        out["transform"] = loaded.module.input_transform((float(tx), float(ty)), float(rotate or 0.0))
    if noise_mode is not None:
        if noise_mode not in contract.noise_modes:
            shown = ", ".join(contract.noise_modes) if contract.noise_modes else "none (it has no noise inputs)"
            raise UserInputError(f"noise mode {noise_mode!r} is not one of model {loaded.spec.id!r}'s: {shown}")
        out["noise_mode"] = noise_mode
    if truncation_cutoff is not None:
        if not contract.num_ws:
            raise UserInputError(f"model {loaded.spec.id!r} has no style layers; a truncation cutoff applies to StyleGANs")
        if not 1 <= int(truncation_cutoff) <= contract.num_ws:
            raise UserInputError(f"truncation cutoff must be between 1 and {contract.num_ws} (the model's style "
                                 f"layers), got {truncation_cutoff}")
        out["truncation_cutoff"] = int(truncation_cutoff)
    return out


def _forward(loaded: LoadedModel, z: Any, labels: Any | None, truncation: float | None = None,
             steps: int | None = None, options: dict[str, Any] | None = None,
             seeds: list[int] | None = None) -> Any:
    """The images for latents ``z`` (and ``labels``). A model that draws random numbers at inference
    (its contract says ``stochastic``, e.g. FastGAN's noise injections, or a StyleGAN asked for
    ``noise_mode="random"``) runs one image at a time with torch's global RNG seeded by that image's
    entry of ``seeds``, never batched with other requests, so an image depends on its seed alone."""
    contract = loaded.contract
    extra: dict[str, Any] = dict(options or {})
    if contract.takes_truncation_input:  # the model applies it itself
        extra["truncation"] = 1.0 if truncation is None else truncation
    if contract.steps:
        extra["steps"] = steps

    def forward(z: Any, labels: Any | None) -> Any:
        z = z.to(device=loaded.device, dtype=loaded.dtype)
        with loaded.inference():
            if labels is None:
                out = loaded.forward(z, **extra)
            else:
                out = loaded.forward(z, labels.to(loaded.device), **extra)
        return out.float().cpu()

    if contract.stochastic or extra.get("noise_mode") == "random":
        if seeds is None or len(seeds) != len(z):
            raise ValueError("a stochastic generator needs one seed per latent")  # internal wiring
        import torch

        outs = []
        for i, seed in enumerate(seeds):
            with seeded(seed, loaded.device):
                outs.append(forward(z[i:i + 1], None if labels is None else labels[i:i + 1]))
        return torch.cat(outs)
    if loaded.batcher is not None:  # concurrent requests for this model share one forward pass
        return loaded.batcher.run(tuple(sorted(extra.items())), z, labels, forward)
    return forward(z, labels)


def label_name(loaded: LoadedModel, index: int | None) -> str | None:
    if index is None:
        return None
    names = loaded.spec.labels
    return names[index] if index < len(names) else str(index)


def generate(
    loaded: LoadedModel,
    *,
    seed: int = 0,
    n: int = 1,
    label: int | str | None = None,
    truncation: float | None = None,
    batch_size: int = 16,
    progress: ProgressFn | None = None,
    steps: int | None = None,
    noise_mode: str | None = None,
    truncation_cutoff: int | None = None,
    translate: tuple[float, float] | None = None,
    rotate: float | None = None,
) -> list[Result]:
    """``n`` images from seeds ``seed … seed + n - 1`` (class ``label`` for conditional models).

    ``steps``: sampling steps of a diffusion model (default: the model's); one-pass generators take none.
    ``noise_mode``, ``truncation_cutoff``, ``translate`` and ``rotate``: a StyleGAN's controls (see
    :func:`style_options`); with ``noise_mode="random"`` each image's noise is drawn from its own seed.
    """
    import torch

    from ..image_io import tensor_to_pil

    if loaded.task not in GENERATION_TASKS:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not a generator")
    if n < 1:
        raise UserInputError(f"number of images must be at least 1, got {n}")
    if batch_size < 1:
        raise UserInputError(f"batch size must be at least 1, got {batch_size}")
    steps = check_steps(loaded, steps, truncation)
    options = style_options(loaded, noise_mode, truncation_cutoff, translate, rotate)
    recorded = {k: v for k, v in options.items() if k != "transform"}
    if "transform" in options:
        recorded.update(translate=list(translate or (0.0, 0.0)), rotate=rotate or 0.0)
    nz = latent_dim(loaded)
    fixed = resolve_label(loaded, label)
    conditional = loaded.task == Task.CONDITIONAL
    num_classes = num_classes_of(loaded)
    seeds = [seed + i for i in range(n)]
    classes = [fixed if fixed is not None else class_for_seed(s, num_classes) for s in seeds] if conditional else None

    def run(chunk: list[int]) -> list[Any]:
        z = torch.stack([latent_for(loaded, seeds[i], nz, truncation) for i in chunk])
        labels = torch.tensor([classes[i] for i in chunk], dtype=torch.long) if classes is not None else None
        return tensor_to_pil(_forward(loaded, z, labels, truncation, steps, options,
                                      seeds=[seeds[i] for i in chunk]))

    results: list[Result] = []
    for images in run_batches(run, list(range(n)), batch_size):
        for image in images:
            i = len(results)
            cls = classes[i] if classes is not None else None
            params = provenance(loaded, seed=seeds[i], label=label_name(loaded, cls), truncation=truncation,
                                steps=steps, **recorded)
            results.append(Result(image, params))
        report(progress, len(results) / n, f"generated {len(results)}/{n}")
    return results


def slerp(a: Any, b: Any, t: float) -> Any:
    """Spherical interpolation between latents ``a`` and ``b`` (linear when they are parallel)."""
    import torch

    na, nb = a / a.norm(), b / b.norm()
    omega = torch.arccos(torch.clamp((na * nb).sum(), -1.0, 1.0))
    if float(omega.abs()) < 1e-6:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolate(
    loaded: LoadedModel,
    *,
    seed_a: int,
    seed_b: int,
    frames: int = 16,
    label: int | str | None = None,
    truncation: float | None = None,
    batch_size: int = 16,
    progress: ProgressFn | None = None,
    steps: int | None = None,
) -> list[Result]:
    """``frames`` images along the great circle from ``z(seed_a)`` to ``z(seed_b)`` (for a diffusion
    model: between the two seeds' initial noises, sampled with ``steps``)."""
    import torch

    from ..image_io import tensor_to_pil

    if loaded.task not in GENERATION_TASKS:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not a generator")
    if not 2 <= frames <= 240:
        raise UserInputError(f"frames must be between 2 and 240, got {frames}")
    steps = check_steps(loaded, steps, truncation)
    nz = latent_dim(loaded)
    za, zb = latent_for(loaded, seed_a, nz, truncation), latent_for(loaded, seed_b, nz, truncation)
    cls = resolve_label(loaded, label)
    if loaded.task == Task.CONDITIONAL and cls is None:
        cls = class_for_seed(seed_a, num_classes_of(loaded))
    ts = [i / (frames - 1) for i in range(frames)]

    def run(chunk: list[float]) -> list[Any]:
        z = torch.stack([slerp(za, zb, t) for t in chunk])
        labels = torch.full((len(chunk),), cls, dtype=torch.long) if cls is not None else None
        # every frame draws the same inference noise (seed_a), so only z moves
        return tensor_to_pil(_forward(loaded, z, labels, truncation, steps, seeds=[seed_a] * len(chunk)))

    results: list[Result] = []
    for images in run_batches(run, ts, batch_size, what="frames"):
        for image in images:
            t = ts[len(results)]
            params = provenance(
                loaded, seed_a=seed_a, seed_b=seed_b, t=round(t, 6), frames=frames,
                label=label_name(loaded, cls), truncation=truncation, steps=steps, mode="interpolate",
            )
            results.append(Result(image, params))
        report(progress, len(results) / frames, f"frame {len(results)}/{frames}")
    return results
