"""A diffusers ``UNet2DModel`` plus its noise schedule behind the studio's generator contract.

The studio calls every generator as ``G(z)`` (unconditional) or ``G(z, labels)`` (class-conditional)
and expects an image in [-1, 1]. :class:`DiffusionGenerator` keeps that contract for a denoising
diffusion model: ``z`` is the *initial noise* (flattened, ``in_channels * H * W`` numbers per
image, so the pipelines draw it per seed on a CPU generator exactly like a GAN latent), and the
forward pass runs a deterministic sampler from it:

* ``"ddim"``: DDIM with ``eta = 0`` (Song et al. 2021), the default;
* ``"dpm-solver"``: DPM-Solver++ multistep (Lu et al. 2022), good at 10–20 steps.

Both are deterministic, so a seed gives the same image at a given step count. ``steps`` (the number
of network evaluations, doubled with classifier-free guidance) is an input, like BigGAN's
truncation: its contract's ``steps=True`` gives it the studio's "steps" control.

Weights stay in diffusers' own folder format (``config.json`` + ``diffusion_pytorch_model.safetensors``
and ``scheduler_config.json``, flat as in ``google/ddpm-cifar10-32``, or a pipeline's ``unet/`` and
``scheduler/`` subfolders); :func:`load_diffusion_folder` builds the module from such a folder
through safetensors only. Studio-specific settings (task, class names, default sampler, steps,
guidance) sit in a ``_gan_studio`` block of ``config.json``, which diffusers ignores.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..contract import Contract, Task
from ..errors import CheckpointError
from .base import Generator

if TYPE_CHECKING:  # diffusers is imported only when a diffusion model is built or loaded; its top-level
    # names are lazy and mypy would see the torch-less placeholders, so name the defining module
    from diffusers.models.unets.unet_2d import UNet2DModel

logger = logging.getLogger(__name__)

SAMPLERS = ("ddim", "dpm-solver")
DEFAULT_STEPS = 25
MAX_STEPS = 1000
UNET_CONFIG = "config.json"
UNET_WEIGHTS = "diffusion_pytorch_model.safetensors"
SCHEDULER_CONFIG = "scheduler_config.json"
UNET_CLASS = "UNet2DModel"


def is_diffusers_config(config: Mapping[str, Any]) -> bool:
    """Whether a ``config.json`` is a diffusers ``UNet2DModel`` config (``_class_name``)."""
    return isinstance(config, Mapping) and config.get("_class_name") == UNET_CLASS


def diffusers_meta(config: Mapping[str, Any]) -> dict[str, Any]:
    """Studio metadata of a diffusers ``UNet2DModel`` config: its ``_gan_studio`` block if it has one,
    completed from the UNet config (architecture ``diffusion``; task conditional when it has
    ``num_class_embeds``, with class names 0 … n-1 unless named; image size; channels)."""
    own = config.get("_gan_studio")
    meta: dict[str, Any] = dict(own) if isinstance(own, dict) else {}
    meta.setdefault("architecture", "diffusion")
    num_embeds = int(config.get("num_class_embeds") or 0)
    num_classes = num_embeds - (1 if meta.get("null_class") is not None else 0)
    meta.setdefault("task", "conditional" if num_embeds else "unconditional")
    if meta["task"] == "conditional" and not meta.get("labels"):
        meta["labels"] = [str(i) for i in range(num_classes)]
    size = config.get("sample_size") or 0
    if isinstance(size, list):
        size = size[0] if len(set(size)) == 1 else 0
    meta.setdefault("image_size", int(size))
    meta.setdefault("channels", int(config.get("out_channels", config.get("in_channels", 3))))
    return meta


def diffusers_files(subfolder: str | None = None) -> tuple[str, ...]:
    """Files of a diffusers model a Hub download needs: the UNet (flat layout as in
    google/ddpm-cifar10-32, or a pipeline's ``unet/`` subfolder) and its noise schedule; weights from
    safetensors only."""
    prefix = f"{subfolder}/" if subfolder else ""
    return (f"{prefix}{UNET_CONFIG}", f"{prefix}{UNET_WEIGHTS}", f"{prefix}{SCHEDULER_CONFIG}",
            f"scheduler/{SCHEDULER_CONFIG}", "model_index.json")


def _sample_shape(config: Mapping[str, Any]) -> tuple[int, int, int]:
    size = config.get("sample_size") or 32
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return int(config.get("in_channels", 3)), int(h), int(w)


class DiffusionGenerator(Generator):
    """``G(z, labels=None, steps=None) -> image`` for a diffusers ``UNet2DModel`` and its schedule.

    Args:
        unet: the denoiser (``UNet2DModel``); class-conditional when it has ``num_class_embeds``.
        scheduler_config: the training noise schedule (``scheduler_config.json``: betas, number of
            training steps, prediction type, clipping); the sampler is built from it per call.
        sampler: ``"ddim"`` (eta = 0) or ``"dpm-solver"`` (DPM-Solver++ multistep).
        default_steps: sampling steps when the caller gives none.
        guidance_scale: classifier-free guidance weight; 1 = plain conditional sampling (one
            network evaluation per step), > 1 also evaluates the ``null_class`` and extrapolates.
        null_class: the class index trained as "no class" (label dropout), needed for guidance.
    """

    architecture = "diffusion"
    default_task = Task.UNCONDITIONAL  # class-conditional when the UNet has num_class_embeds
    own_folder_format = True
    warm_up = False  # tens of network evaluations per image: not worth a warm-up at start

    def __init__(
        self,
        unet: UNet2DModel,
        scheduler_config: Mapping[str, Any],
        *,
        sampler: str = "ddim",
        default_steps: int = DEFAULT_STEPS,
        guidance_scale: float = 1.0,
        null_class: int | None = None,
    ) -> None:
        super().__init__()
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")
        self.unet = unet
        self.scheduler_config = dict(scheduler_config)
        self.sampler = sampler
        self.default_steps = check_steps(default_steps)
        self.guidance_scale = float(guidance_scale)
        num_embeds = getattr(unet.config, "num_class_embeds", None)
        self.num_class_embeds = int(num_embeds) if num_embeds else 0
        if null_class is not None and not 0 <= int(null_class) < self.num_class_embeds:
            raise ValueError(f"null_class {null_class} is not a class of this UNet (0 … {self.num_class_embeds - 1})")
        self.null_class = None if null_class is None else int(null_class)
        if self.guidance_scale != 1.0 and self.null_class is None:
            raise ValueError("classifier-free guidance (guidance_scale != 1) needs a null_class")
        self.sample_shape = _sample_shape(unet.config)
        c, h, w = self.sample_shape
        self.latent_dim = c * h * w  # numbers of initial noise per image (the "z" of the contract)
        self.num_classes = self.num_class_embeds - (1 if self.null_class is not None else 0)

    @property
    def conditional(self) -> bool:
        return self.num_class_embeds > 0

    @property
    def contract(self) -> Contract:
        # Tens of network evaluations accumulate bf16 rounding: fp32 unless asked (auto_bf16=False).
        return Contract(task=Task.CONDITIONAL if self.conditional else Task.UNCONDITIONAL,
                        latent_dim=self.latent_dim, num_classes=max(self.num_classes, 0), steps=True,
                        default_steps=self.default_steps, max_steps=MAX_STEPS, out_channels=self.sample_shape[0],
                        native_size=self.sample_shape[1], auto_bf16=False)

    @property
    def config(self) -> dict[str, Any]:
        """The UNet's diffusers config (its constructor arguments)."""
        return {k: v for k, v in dict(self.unet.config).items() if not k.startswith("_")}

    @classmethod
    def recognises_config(cls, config: Mapping[str, Any]) -> bool:
        return is_diffusers_config(config)

    @classmethod
    def complete_meta(cls, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        return diffusers_meta({**config, "_gan_studio": dict(meta)})

    def save_pretrained(self, out_dir: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
                        card: str | None = None) -> Path:
        """Write diffusers' own folder (UNet config + safetensors, ``scheduler_config.json``) with the
        studio's settings in the ``_gan_studio`` block of ``config.json``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(str(out), safe_serialization=True)
        (out / SCHEDULER_CONFIG).write_text(json.dumps(self.scheduler_config, indent=2, sort_keys=True) + "\n",
                                            encoding="utf-8")
        config = _read_json(out / UNET_CONFIG)
        config["_gan_studio"] = {
            "architecture": self.architecture, "task": self.contract.task.value, "sampler": self.sampler,
            "default_steps": self.default_steps, "guidance_scale": self.guidance_scale,
            "null_class": self.null_class, **(dict(meta) if meta else {}),
        }
        (out / UNET_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if card is not None:
            (out / "README.md").write_text(card, encoding="utf-8")
        return out

    @classmethod
    def hub_files(cls, subfolder: str | None = None) -> tuple[str, ...]:
        return diffusers_files(subfolder)

    @classmethod
    def load_folder(cls, path: Path) -> DiffusionGenerator:
        module, _kwargs, _meta = load_diffusion_folder(path)
        return module

    @classmethod
    def local_weights(cls, path: Path) -> Path | None:
        weights = find_unet_folder(path) / UNET_WEIGHTS
        return weights if weights.is_file() else None

    def make_scheduler(self) -> Any:
        """A fresh sampler (schedulers keep per-call state, so one per call keeps threads apart)."""
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        config = {k: v for k, v in self.scheduler_config.items() if not k.startswith("_")}
        if self.sampler == "ddim":
            return DDIMScheduler.from_config(config)  # type: ignore[no-untyped-call]  # mypy sees diffusers' placeholder
        extra = {"algorithm_type": "dpmsolver++", "solver_order": 2}
        return DPMSolverMultistepScheduler.from_config({**config, **extra})  # type: ignore[no-untyped-call]  # as above

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, steps: int | None = None) -> torch.Tensor:
        """Denoise the initial noise ``z`` ((N, latent_dim) or (N, C, H, W)) into images in [-1, 1]."""
        n = z.shape[0]
        x = z.reshape(n, *self.sample_shape).float()
        if self.conditional:
            if labels is None:
                raise ValueError("this diffusion model is class-conditional; pass labels")
            labels = labels.to(device=x.device, dtype=torch.long)
            if int(labels.min()) < 0 or int(labels.max()) >= max(self.num_classes, 1):
                raise ValueError(f"class labels must be in 0 … {self.num_classes - 1}, got {labels.tolist()}")
        elif labels is not None:
            raise ValueError("this diffusion model is unconditional; it takes no labels")
        steps = self.default_steps if steps is None else check_steps(steps)
        scheduler = self.make_scheduler()
        scheduler.set_timesteps(steps, device=x.device)
        x = x * float(scheduler.init_noise_sigma)
        guided = self.conditional and self.guidance_scale != 1.0
        class_in = labels
        if guided:
            # conditional, so labels were checked above; __init__ refuses guidance without a null_class
            assert labels is not None and self.null_class is not None
            class_in = torch.cat([labels, torch.full_like(labels, self.null_class)])
        dtype = next(self.unet.parameters()).dtype
        step_kwargs = {"eta": 0.0} if self.sampler == "ddim" else {}
        for t in scheduler.timesteps:
            inp = scheduler.scale_model_input(x, t)
            inp = torch.cat([inp, inp]) if guided else inp
            out = self.unet(inp.to(dtype), t, class_labels=class_in).sample.float()
            if guided:
                cond, uncond = out.chunk(2)
                out = uncond + self.guidance_scale * (cond - uncond)
            x = scheduler.step(out, t, x, **step_kwargs).prev_sample
        return x.clamp(-1.0, 1.0)


def check_steps(steps: Any) -> int:
    """A valid number of sampling steps (a whole number 1 … :data:`MAX_STEPS`), or ``ValueError`` naming it."""
    if isinstance(steps, bool):
        raise ValueError(f"steps must be a whole number between 1 and {MAX_STEPS}, got {steps!r}")
    try:
        value = float(steps)
    except (TypeError, ValueError):
        raise ValueError(f"steps must be a whole number between 1 and {MAX_STEPS}, got {steps!r}") from None
    if not value.is_integer() or not 1 <= value <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number between 1 and {MAX_STEPS}, got {steps!r}")
    return int(value)


# ---- diffusers folders -----------------------------------------------------------------------------
def find_unet_folder(folder: str | os.PathLike[str]) -> Path:
    """The folder holding the UNet's ``config.json``: ``folder`` itself (flat layout) or ``folder/unet``."""
    folder = Path(folder)
    if (folder / UNET_CONFIG).is_file():
        return folder
    if (folder / "unet" / UNET_CONFIG).is_file():
        return folder / "unet"
    raise CheckpointError(f"{str(folder)!r} is not a diffusers model folder: no config.json (or unet/config.json)")


def find_scheduler_config(unet_folder: Path) -> Path | None:
    """``scheduler_config.json`` next to the UNet (flat layout) or in the pipeline's ``scheduler/``."""
    for candidate in (unet_folder / SCHEDULER_CONFIG, unet_folder.parent / "scheduler" / SCHEDULER_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def load_diffusion_folder(folder: str | os.PathLike[str]) -> tuple[DiffusionGenerator, dict[str, Any], dict[str, Any]]:
    """Build a :class:`DiffusionGenerator` from a local diffusers folder, weights from safetensors only.

    Returns ``(module in eval mode, UNet config without private keys, studio meta)``. Missing,
    unexpected or mis-shaped weights raise :class:`CheckpointError` (strict loading), as does a
    folder with only pickle-based weights (``.bin``): re-save it with ``safe_serialization=True``.
    """
    from diffusers import UNet2DModel

    unet_folder = find_unet_folder(folder)
    config = _read_json(unet_folder / UNET_CONFIG)
    if not is_diffusers_config(config):
        raise CheckpointError(
            f"{unet_folder / UNET_CONFIG}: _class_name is {config.get('_class_name')!r}; "
            f"the diffusion architecture loads {UNET_CLASS} folders"
        )
    if not (unet_folder / UNET_WEIGHTS).is_file():
        present = sorted(p.name for p in unet_folder.iterdir() if p.is_file())
        raise CheckpointError(
            f"{str(unet_folder)!r} has no {UNET_WEIGHTS} (files: {', '.join(present)}); gan_studio loads diffusers "
            f"weights from safetensors only: re-save the model with save_pretrained(..., safe_serialization=True)"
        )
    try:
        unet, info = UNet2DModel.from_pretrained(  # type: ignore[no-untyped-call]  # mypy sees diffusers' placeholder
            str(unet_folder), use_safetensors=True, local_files_only=True, output_loading_info=True,
            low_cpu_mem_usage=False,
        )
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{unet_folder}: cannot load the UNet ({exc})") from None
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if problems:
        raise CheckpointError(f"{unet_folder} does not match {UNET_CLASS} strictly: {problems}")
    meta = diffusers_meta(config)
    sched_path = find_scheduler_config(unet_folder)
    if sched_path is None:
        logger.warning("%s: no %s; using a DDPM schedule with 1000 linear steps", unet_folder, SCHEDULER_CONFIG)
        scheduler_config: dict[str, Any] = {"num_train_timesteps": 1000, "beta_schedule": "linear"}
    else:
        scheduler_config = _read_json(sched_path)
    module = DiffusionGenerator(
        unet,
        scheduler_config,
        sampler=str(meta.get("sampler", "ddim")),
        default_steps=int(meta.get("default_steps", DEFAULT_STEPS)),
        guidance_scale=float(meta.get("guidance_scale", 1.0)),
        null_class=meta.get("null_class"),
    )
    module.eval().requires_grad_(False)
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    return module, kwargs, meta
