"""What a generator declares about itself, and what the studio can do with it.

Every architecture class states its :class:`Contract` next to its code (``contract`` on the
instance, computed from its constructor arguments). The pipelines, the runtime, the UI's controls
and the CLI read that declaration; none of them switches on an architecture's name. This module
is pure Python (no torch), so the registry, the UI and the CLI can use it cheaply.

>>> Contract(task=Task.UNCONDITIONAL, latent_dim=100).takes_latent
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .errors import CatalogueError

__all__ = [
    "COLOUR_INPUTS",
    "COLOUR_OUTPUTS",
    "DEFAULT_WORKING_SIZE",
    "GENERATION_TASKS",
    "IMAGE_TASKS",
    "JOBS",
    "Contract",
    "Task",
    "job_of",
]

TRUNCATION_KINDS = (None, "trick", "input", "w")
# What a colorizer reads ("l": L*/50 - 1, one channel; "grey_rgb": the luminance drawn as a grey sRGB
# image in [0, 1]; "grey_rgb_imagenet": the same, ImageNet-normalised) and returns ("ab": (a*, b*) /
# ab_scale; "rgb_imagenet": an ImageNet-normalised RGB image whose chroma is kept).
COLOUR_INPUTS = ("l", "grey_rgb", "grey_rgb_imagenet")
COLOUR_OUTPUTS = ("ab", "rgb_imagenet")
DEFAULT_WORKING_SIZE = 256  # short side an image model works at when neither call nor model says


class Task(StrEnum):
    """What the studio can do with a model; each task has a fixed call contract."""

    UNCONDITIONAL = "unconditional"  # G(z)
    CONDITIONAL = "conditional"  # G(z, labels)
    TRANSLATION = "translation"  # G(x), x in [-1, 1]
    MULTIDOMAIN = "multidomain"  # G(x, c_target)
    COLORIZATION = "colorization"  # G(L) -> ab
    UPSCALE = "upscale"  # G(x) -> x enlarged `scale` times, x and the result RGB in [0, 1]

    @classmethod
    def parse(cls, value: str, *, where: str = "") -> Task:
        """The task named ``value``; :class:`~gan_studio.errors.CatalogueError` listing the valid ones."""
        try:
            return cls(value)
        except ValueError:
            raise CatalogueError(
                f"{where}unknown task {value!r}; choose one of: {', '.join(t.value for t in cls)}"
            ) from None


# The studio's jobs (one tab each in the UI, one warm-up model each) and the tasks that serve them,
# in the order the UI shows them. The only place these groups are written.
JOBS: dict[str, tuple[Task, ...]] = {
    "generate": (Task.UNCONDITIONAL, Task.CONDITIONAL),
    "translate": (Task.TRANSLATION, Task.MULTIDOMAIN),
    "colorize": (Task.COLORIZATION,),
    "upscale": (Task.UPSCALE,),
}
GENERATION_TASKS: tuple[Task, ...] = JOBS["generate"]
IMAGE_TASKS: tuple[Task, ...] = JOBS["translate"] + JOBS["colorize"]  # an image in, an image out


def job_of(task: Task) -> str:
    """The job (``generate``, ``translate``, ``colorize``, ``upscale``) a task serves."""
    return next(job for job, tasks in JOBS.items() if task in tasks)


@dataclass(frozen=True)
class Contract:
    """How a generator is called and what it tolerates; declared by each architecture.

    Generators (``task`` unconditional or conditional) are called ``G(z[, labels][, truncation=t]
    [, steps=k])``; image models ``G(x[, c])`` with ``x`` in [-1, 1] (``G(L)`` for colorizers);
    upscalers ``G(x)`` with ``x`` RGB in [0, 1] (Real-ESRGAN's convention), returning an image
    ``scale`` times larger in [0, 1] (clamped by the pipeline).
    """

    task: Task  # the task the architecture does with this config
    # --- generators ---
    latent_dim: int = 0  # length of z (0: not a latent generator)
    num_classes: int = 0  # classes of a conditional generator (0: unconditional)
    # "trick": resample |z| > t; "input": G(z, c, truncation=t) with z = t·truncnorm (BigGAN);
    # "w": G(z, c, truncation=ψ) truncating towards the mean W (StyleGAN); None: takes no truncation
    truncation: str | None = None
    steps: bool = False  # takes a number of sampling steps (diffusion)
    default_steps: int | None = None  # the steps used when a call gives none
    max_steps: int = 0  # the most steps a call may ask for
    # style-based generators (StyleGAN): an intermediate latent space W the pipelines can work in
    ws_resolutions: tuple[int, ...] = ()  # the resolution each of the num_ws style vectors feeds (empty: no W)
    noise_modes: tuple[str, ...] = ()  # per-pixel noise inputs: "const", "random", "none" (empty: none)
    input_transform: bool = False  # a translate/rotate control of its input (StyleGAN3)
    latent_directions: bool = False  # SeFa directions in z from its first layer (ProGAN: no W space)
    # --- image models ---
    in_channels: int = 0  # image channels the model reads (0: no image input)
    condition_dim: int = 0  # length of the target vector c of G(x, c) (StarGAN's c_dim)
    size_multiple: int = 1  # input sides must be a multiple of this
    square_input: bool = False  # resized to a square of the working size (DeOldify, DDColor), not keeping the aspect
    # --- colorizers (task colorization): the pipeline converts to and from these ---
    colour_input: str = "l"  # one of COLOUR_INPUTS
    colour_output: str = "ab"  # one of COLOUR_OUTPUTS
    ab_scale: float = 110.0  # "ab" output: a*, b* = output × ab_scale
    # --- upscalers (task upscale) ---
    scale: int = 1  # the model's own enlargement factor (output side = input side × scale)
    receptive_radius: int = 0  # input pixels one output pixel depends on, each way (tile padding needed for exact seams)
    # --- all ---
    out_channels: int = 3  # channels of the output (2 for a colorizer's ab)
    native_size: int = 0  # the resolution it was made for (0: any)
    stochastic: bool = False  # draws random numbers at inference (pix2pix dropout): seeded by the pipeline
    # runtime tolerances (measured in bench/, docs/benchmarks.md)
    channels_last: frozenset[str] = field(default_factory=frozenset)  # precisions where channels-last wins on CPU
    compile: bool = True  # safe to torch.compile (same images as eager)
    auto_bf16: bool = True  # precision "auto" may run it under bf16 autocast

    def __post_init__(self) -> None:
        if self.truncation not in TRUNCATION_KINDS:
            raise ValueError(f"truncation must be one of {TRUNCATION_KINDS}, got {self.truncation!r}")
        if self.colour_input not in COLOUR_INPUTS:
            raise ValueError(f"colour_input must be one of {COLOUR_INPUTS}, got {self.colour_input!r}")
        if self.colour_output not in COLOUR_OUTPUTS:
            raise ValueError(f"colour_output must be one of {COLOUR_OUTPUTS}, got {self.colour_output!r}")
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1, got {self.scale}")
        if self.size_multiple < 1:
            raise ValueError(f"size_multiple must be >= 1, got {self.size_multiple}")

    @property
    def takes_latent(self) -> bool:
        """Whether the model is called with a latent ``z`` (a generator)."""
        return self.latent_dim > 0

    @property
    def num_ws(self) -> int:
        """How many style vectors w the synthesis network takes (0: no W space)."""
        return len(self.ws_resolutions)

    @property
    def takes_image(self) -> bool:
        """Whether the model is called with an image ``x``."""
        return self.in_channels > 0

    @property
    def takes_truncation_input(self) -> bool:
        """Whether ``truncation`` is an argument of the forward pass (BigGAN's input, StyleGAN's ψ) rather
        than a trick played on the latent."""
        return self.truncation in ("input", "w")
