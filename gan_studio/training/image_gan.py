"""Train a GAN of your own: the built-in digits or your own images, DCGAN / class-conditional DCGAN
(or a progressively grown ProGAN), with a choice of loss, DiffAugment, an EMA generator, and live
numbers that show collapse or progress.

* :func:`load_image_data` reads a folder, a zip or a list of files through the studio's hardened
  decoder (:func:`gan_studio.image_io.load_image`); files that are not images, are corrupt or too
  large are skipped and counted, never fatal. Sub-folders (``cats/``, ``dogs/``) become classes.
* :class:`TrainSettings` holds every choice; :class:`ImageGANTrainer` does one optimisation step
  at a time (so a run can stop, report and resume between any two steps).
* :class:`LiveMetrics` scores the EMA generator while it trains: for digits the digit evaluator's
  class accuracy and class coverage; for your own images FID/KID (torchmetrics) with the one
  image feature network the studio can load offline (VGG16, only if it is in the Hugging Face
  cache) — when there is none it says so — and always a pixel-space diversity ratio.
* :func:`train_images` is the whole loop (CLI and the run manager's worker call it): resume from
  ``training_state.pt``, periodic progress file and sample grid, stop on request, export a model
  folder (``config.json`` + ``model.safetensors`` + card) at the end.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import ImageInputError, UserInputError
from . import losses as L
from .discriminators import projection_logits
from .loop import ema_update, gan_state, load_gan_state
from .progressive import minibatch_stddev

logger = logging.getLogger(__name__)

__all__ = [
    "ARCHITECTURES",
    "DIGITS",
    "LOSSES",
    "ImageData",
    "ImageDiscriminator",
    "ImageGANTrainer",
    "LiveMetrics",
    "ConditionalProgressiveDiscriminator",
    "TrainSettings",
    "export_model",
    "load_image_data",
    "train_images",
]

#: ``--data digits``: scikit-learn's bundled digits (labelled 0–9).
DIGITS = "digits"
#: The losses the trainer offers (``TrainSettings.loss``).
LOSSES = L.LOSS_NAMES
#: The generators it trains: ``auto`` = class-conditional when the data has classes.
ARCHITECTURES = ("auto", "dcgan", "conditional_dcgan")
#: Image sides on CPU; on a GPU also 128 and 256.
CPU_SIZES = (32, 64)
GPU_SIZES = (32, 64, 128, 256)
#: Fewest images a run accepts, and the most it reads.
MIN_IMAGES = 8
MAX_IMAGES = 5000
#: A zip member or file larger than this is skipped (bytes), and a zip may hold at most this many entries.
MAX_FILE_BYTES = 30 << 20
MAX_ZIP_ENTRIES = 20_000
#: Pixels an image may claim in its header (checked before decoding).
MAX_IMAGE_PIXELS = 25_000_000

STATE_NAME = "training_state.pt"
PROGRESS_NAME = "progress.json"
GRID_NAME = "grid.png"
SAMPLES_DIR = "samples"
DATA_NAME = "data.pt"
MODEL_DIR = "model"
GRID_SEEDS = 64  # the fixed-seed sample grid: 8×8 (one class per column for a conditional model)


# ---- data ---------------------------------------------------------------------------------------
@dataclass
class ImageData:
    """The training images, decoded and resized.

    ``images``: uint8 (N, C, S, S); ``labels``: int64 (N,) or None; ``classes``: class names (the
    sub-folders) or ``[]``; ``skipped``: (file, reason) of every file left out; ``source``: what the
    user gave, in words.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    classes: list[str]
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "images"  # "digits" or "images"

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def as_float(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Images (or ``images[idx]``) as float32 in [-1, 1]."""
        x = self.images if idx is None else self.images[idx]
        return x.to(torch.float32).div(127.5).sub(1.0)

    def summary(self) -> dict[str, Any]:
        """A JSON-able description for the progress file and the model card."""
        per_class = ({name: int((self.labels == i).sum()) for i, name in enumerate(self.classes)}
                     if self.labels is not None else {})
        return {
            "source": self.source, "kind": self.kind, "images": len(self), "size": self.size,
            "channels": self.channels, "classes": self.classes, "per_class": per_class,
            "skipped": len(self.skipped), "skipped_examples": [f"{n}: {r}" for n, r in self.skipped[:10]],
        }

    def save(self, path: Path) -> None:
        """Save as tensors only (read back with ``weights_only=True``)."""
        torch.save({"images": self.images, "labels": self.labels if self.labels is not None else torch.empty(0),
                    "meta": json.dumps({"classes": self.classes, "source": self.source, "kind": self.kind,
                                        "skipped": self.skipped, "has_labels": self.labels is not None})}, path)

    @classmethod
    def load(cls, path: Path) -> ImageData:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(obj["meta"])
        return cls(images=obj["images"], labels=obj["labels"] if meta["has_labels"] else None,
                   classes=list(meta["classes"]), source=meta["source"], kind=meta["kind"],
                   skipped=[(str(a), str(b)) for a, b in meta["skipped"]])


def _digits(size: int) -> ImageData:
    from ..data import load_digits_32

    x, y = load_digits_32("train", size=size)
    images = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return ImageData(images=images, labels=y.long(), classes=[str(i) for i in range(10)],
                     source="the built-in digits (scikit-learn's load_digits, 1,437 training images)", kind="digits")


def _iter_sources(sources: Sequence[str | os.PathLike[str]],
                  skipped: list[tuple[str, str]]) -> Iterable[tuple[str, Callable[[], bytes]]]:
    """(relative name, read-bytes callable) for every candidate file; zips are opened, folders walked
    (symlinks are not followed). Oversized or unreadable entries go to ``skipped``."""
    for src in sources:
        path = Path(os.fspath(src))
        if path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
                for name in sorted(files):
                    file = Path(root) / name
                    rel = file.relative_to(path).as_posix()
                    if name.startswith(".") or file.is_symlink():
                        continue
                    yield rel, _file_reader(file, rel)
        elif path.is_file() and zipfile.is_zipfile(path):
            yield from _iter_zip(path, skipped)
        elif path.is_file():
            yield path.name, _file_reader(path, path.name)
        else:
            skipped.append((path.name or str(path), "no such file"))


def _file_reader(file: Path, rel: str) -> Callable[[], bytes]:
    def read() -> bytes:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ImageInputError(f"{rel}: larger than the {MAX_FILE_BYTES:,} bytes allowed")
        return file.read_bytes()
    return read


def _iter_zip(path: Path, skipped: list[tuple[str, str]]) -> Iterable[tuple[str, Callable[[], bytes]]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        skipped.append((path.name, f"not a readable zip ({exc})"))
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_ENTRIES:
            skipped.append((path.name, f"{len(infos)} entries; only the first {MAX_ZIP_ENTRIES} are read"))
            infos = infos[:MAX_ZIP_ENTRIES]
        for info in infos:
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts or ".." in parts or parts[0] == "__MACOSX" or parts[-1].startswith("."):
                continue
            rel = "/".join(parts)

            def read(info: zipfile.ZipInfo = info, rel: str = rel) -> bytes:
                if info.file_size > MAX_FILE_BYTES:
                    raise ImageInputError(f"{rel}: larger than the {MAX_FILE_BYTES:,} bytes allowed")
                with archive.open(info) as fp:  # the declared size may lie: read at most the cap + 1
                    data = fp.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    raise ImageInputError(f"{rel}: larger than the {MAX_FILE_BYTES:,} bytes allowed")
                return data

            yield rel, read


def load_image_data(sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, size: int,
                    max_images: int = MAX_IMAGES, min_images: int = MIN_IMAGES,
                    progress: Callable[[int, int], None] | None = None) -> ImageData:
    """Decode the user's images (a folder, a zip, files, or :data:`DIGITS`) to ``size``×``size``.

    Each file goes through :func:`gan_studio.image_io.load_image` (format allow-list, pixel cap
    from the header, EXIF orientation, transparency on white), then is centre-cropped to a square
    and resized. Files that fail are skipped and listed in :attr:`ImageData.skipped`. When every
    image sits in a first-level sub-folder and there are at least two of them, the sub-folders
    are the classes. Raises :class:`UserInputError` when fewer than ``min_images`` images remain.
    """
    from ..image_io import center_crop, load_image, pil_to_tensor, resize

    items = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if len(items) == 1 and isinstance(items[0], str) and items[0] == DIGITS:
        return _digits(size)
    if not items:
        raise UserInputError("no images given: upload a zip or some image files, or choose the built-in digits")
    skipped: list[tuple[str, str]] = []
    decoded: list[tuple[str, torch.Tensor]] = []
    seen = 0
    for rel, read in _iter_sources(items, skipped):
        if len(decoded) >= max_images:
            skipped.append((rel, f"over the limit of {max_images} images"))
            continue
        seen += 1
        try:
            image, _notes = load_image(read(), name=rel, max_pixels=MAX_IMAGE_PIXELS)
        except ImageInputError as exc:
            skipped.append((rel, str(exc).removeprefix(f"{rel}: ")))
            continue
        except OSError as exc:
            skipped.append((rel, f"cannot read ({exc})"))
            continue
        side = min(image.size)
        square = resize(center_crop(image, side), size)
        decoded.append((rel, ((pil_to_tensor(square) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[0]))
        if progress is not None and seen % 20 == 0:
            progress(seen, 0)
    if len(decoded) < min_images:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped[:5])
        raise UserInputError(
            f"only {len(decoded)} usable image(s) found (at least {min_images} are needed; a couple of dozen or more "
            f"is better); {len(skipped)} file(s) skipped" + (f", e.g. {reasons}" if reasons else "")
        )
    names = [n for n, _ in decoded]
    folders = [n.split("/")[0] if "/" in n else None for n in names]
    # a single wrapping folder (photos/a.png, photos/b.png) is not a class: look one level down
    while folders and all(f is not None for f in folders) and len(set(folders)) == 1 \
            and all(n.count("/") >= 2 for n in names):
        names = [n.split("/", 1)[1] for n in names]
        folders = [n.split("/")[0] if "/" in n else None for n in names]
    classes: list[str] = []
    labels: torch.Tensor | None = None
    if all(f is not None for f in folders) and len(set(folders)) >= 2:
        classes = sorted({str(f) for f in folders})
        labels = torch.tensor([classes.index(str(f)) for f in folders], dtype=torch.long)
    what = ", ".join(Path(os.fspath(s)).name for s in items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
    return ImageData(images=torch.stack([t for _, t in decoded]), labels=labels, classes=classes,
                     source=f"your images ({what})", skipped=skipped)


# ---- settings -----------------------------------------------------------------------------------
@dataclass
class TrainSettings:
    """Every choice of an image-training run (JSON-able; saved with the run so it can resume)."""

    architecture: str = "auto"      # auto | dcgan | conditional_dcgan (auto: conditional when the data has classes)
    image_size: int = 32            # 32 or 64 on CPU; 128, 256 too on a GPU
    loss: str = "non-saturating"    # one of LOSSES
    steps: int = 2000               # total optimisation steps
    batch_size: int = 64
    nz: int = 100                   # latent length
    ngf: int = 32                   # generator width (channels of its last hidden block)
    ndf: int = 32                   # discriminator width (channels of its first convolution)
    lr_g: float = 2e-4              # TTUR (Heusel et al. 2017): D learns twice as fast,
    lr_d: float = 4e-4              # with Adam betas (0, 0.9), as the embedded digits GANs were trained
    beta1: float = 0.0
    beta2: float = 0.9
    diffaugment: str = "auto"       # auto (on below 2,000 images) | on | off
    ema: bool = True                # keep an exponential moving average of the generator
    ema_decay: float = 0.999
    gp_weight: float = 10.0         # WGAN-GP's penalty weight
    grow: bool = False              # ProGAN-style progressive growing with fade-in (architecture pggan)
    seed: int = 0
    device: str = "cpu"
    sample_every: int = 50          # steps between sample grids (and progress reports)
    eval_every: int = 250           # steps between quality/diversity measurements (0: only at the end)
    eval_samples: int = 256

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserInputError(f"unknown training setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self, *, gpu: bool | None = None) -> None:
        """Raise :class:`UserInputError` naming a bad value and the valid choices."""
        on_gpu = self.device.startswith("cuda") if gpu is None else gpu
        sizes = GPU_SIZES if on_gpu else CPU_SIZES
        if self.image_size not in sizes:
            raise UserInputError(f"image size {self.image_size} is not offered on {'GPU' if on_gpu else 'CPU'}; "
                                 f"choose one of: {', '.join(map(str, sizes))}")
        if self.loss not in LOSSES:
            raise UserInputError(f"unknown loss {self.loss!r}; choose one of: {', '.join(LOSSES)}")
        if self.architecture not in ARCHITECTURES:
            raise UserInputError(f"unknown architecture {self.architecture!r}; choose one of: {', '.join(ARCHITECTURES)}")
        if self.diffaugment not in ("auto", "on", "off"):
            raise UserInputError(f"diffaugment must be auto, on or off, got {self.diffaugment!r}")
        for name in ("steps", "batch_size", "nz", "ngf", "ndf", "sample_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserInputError(f"{name} must be a positive whole number, got {value!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserInputError(f"ema_decay must be in [0, 1), got {self.ema_decay}")


class ConditionalProgressiveDiscriminator(nn.Module):
    """The class-conditional discriminator for growing (the progressive trainer's
    :class:`~gan_studio.training.progressive.ProgressiveDiscriminator` has no class head).

    ProGAN's mirror of the generator: a FromRGB 1×1 convolution per resolution and one downsampling
    block per doubling; at a fractional ``lod`` the top block's output is blended with the FromRGB of
    the half-size image, as the generator blends its ToRGB outputs; the minibatch standard deviation
    before the last convolution. Spectral-normalised, optionally class-conditional through a
    projection head.

    Args:
        resolution: full input side (a power of two >= 8).
        nc: image channels.
        ndf: channels at the full resolution (doubled per halving, at most ``8·ndf``).
        num_classes: 0 for unconditional.
    """

    def __init__(self, resolution: int, nc: int = 3, ndf: int = 32, num_classes: int = 0) -> None:
        super().__init__()
        self.num_blocks = int(math.log2(resolution)) - 1  # 4 px … resolution
        self.resolution = resolution

        def ch(block: int) -> int:  # channels at block (4·2^block px)
            return int(min(ndf * 2 ** (self.num_blocks - 1 - block), ndf * 8))

        self.from_rgb = nn.ModuleList(spectral_norm(nn.Conv2d(nc, ch(b), 1)) for b in range(self.num_blocks))
        self.blocks = nn.ModuleList()
        for b in range(self.num_blocks):
            if b == 0:
                self.blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(ch(0), ch(0), 3, 1, 1)), nn.LeakyReLU(0.2)))
            else:
                self.blocks.append(nn.Sequential(
                    spectral_norm(nn.Conv2d(ch(b), ch(b), 3, 1, 1)), nn.LeakyReLU(0.2),
                    spectral_norm(nn.Conv2d(ch(b), ch(b - 1), 3, 1, 1)), nn.LeakyReLU(0.2), nn.AvgPool2d(2)))
        self.final = nn.Sequential(spectral_norm(nn.Conv2d(ch(0) + 1, ch(0), 3, 1, 1)), nn.LeakyReLU(0.2))
        self.linear = spectral_norm(nn.Linear(ch(0), 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, ch(0))) if num_classes else None

    def forward(self, x: torch.Tensor, lod: float, y: torch.Tensor | None = None) -> torch.Tensor:
        top = self.num_blocks - 1 - math.floor(lod)
        alpha = 1.0 if lod == math.floor(lod) else math.ceil(lod) - lod
        res = 4 * 2**top
        x_top = F.adaptive_avg_pool2d(x, res) if x.shape[-1] != res else x
        h = F.leaky_relu(self.from_rgb[top](x_top), 0.2)
        h = self.blocks[top](h)
        if alpha < 1.0 and top > 0:
            skip = F.leaky_relu(self.from_rgb[top - 1](F.avg_pool2d(x_top, 2)), 0.2)
            h = alpha * h + (1 - alpha) * skip
        for b in range(top - 1, -1, -1):
            h = self.blocks[b](h)
        feat = self.final(minibatch_stddev(h)).sum(dim=(2, 3))
        return projection_logits(self.linear, self.embed, feat, y)


class ImageDiscriminator(nn.Module):
    """``D(x[, y]) -> logits`` for (N, nc, S, S) images: stride-2 spectral-normalised convolutions
    down to 4×4 (as :class:`~gan_studio.training.discriminators.DigitsDiscriminator`), then the
    minibatch standard deviation, one more 3×3 convolution, global sum pooling and a linear head,
    plus a projection term for the classes when ``num_classes`` > 0.
    """

    def __init__(self, nc: int = 3, ndf: int = 32, num_classes: int = 0, image_size: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch, size = nc, ndf, image_size
        while size > 4:
            layers += [spectral_norm(nn.Conv2d(ch_in, ch, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            ch_in, ch, size = ch, min(ch * 2, ndf * 8), size // 2
        self.features = nn.Sequential(*layers)
        self.final = nn.Sequential(spectral_norm(nn.Conv2d(ch_in + 1, ch_in, 3, 1, 1)), nn.LeakyReLU(0.2, True))
        self.linear = spectral_norm(nn.Linear(ch_in, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, ch_in)) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.final(minibatch_stddev(self.features(x))).sum(dim=(2, 3))
        return projection_logits(self.linear, self.embed, h, y)


# ---- the trainer --------------------------------------------------------------------------------
class Stopper(Protocol):
    def is_set(self) -> bool: ...


class ImageGANTrainer:
    """Models, optimisers and one optimisation step for ``settings`` on ``data``."""

    def __init__(self, settings: TrainSettings, data: ImageData) -> None:
        from ..architectures import build_architecture

        settings.check()
        self.s = settings
        self.data = data
        self.device = torch.device(settings.device)
        if data.size != settings.image_size:
            raise UserInputError(f"the data is {data.size} px but the settings ask for {settings.image_size} px")
        self.num_classes = len(data.classes) if data.labels is not None else 0
        want_cond = settings.architecture == "conditional_dcgan" or (settings.architecture == "auto" and self.num_classes >= 2)
        if want_cond and self.num_classes < 2:
            raise UserInputError("a class-conditional generator needs classes: put the images in one sub-folder per "
                                 "class (cats/…, dogs/…), or choose dcgan")
        self.conditional = want_cond
        self.augment = settings.diffaugment == "on" or (settings.diffaugment == "auto" and len(data) < 2000)
        nc, size = data.channels, settings.image_size
        torch.manual_seed(settings.seed)
        if settings.grow:  # the progressive trainer's schedule and discriminator (training/progressive.py)
            from .progressive import ProgressiveDiscriminator, ProgressiveSchedule

            self.arch = "pggan"
            self.g_kwargs: dict[str, Any] = {
                "resolution": size, "z_space_dim": settings.nz, "image_channels": nc, "final_tanh": True,
                "label_size": self.num_classes if self.conditional else 0,
                "fmaps_base": settings.ngf * 4 * size, "fmaps_max": settings.ngf * 8}
            resolutions = [4 * 2**i for i in range(int(math.log2(size)) - 1)]
            self.schedule = ProgressiveSchedule(resolutions, steps_per_phase=max(1, settings.steps // len(resolutions)),
                                                fade_fraction=0.5)
            if self.conditional:
                self.D: nn.Module = ConditionalProgressiveDiscriminator(size, nc=nc, ndf=settings.ndf,
                                                                        num_classes=self.num_classes)
            else:
                self.D = ProgressiveDiscriminator(size, image_channels=nc, fmaps_base=settings.ndf * size,
                                                  fmaps_max=settings.ndf * 8)
        else:
            self.arch = "conditional_dcgan" if self.conditional else "dcgan"
            self.g_kwargs = {"nz": settings.nz, "ngf": settings.ngf, "nc": nc, "image_size": size}
            if self.conditional:
                # a short label embedding (as digits-cgan's 16): a long one lets G ignore z within a class
                self.g_kwargs.update(num_classes=self.num_classes, embed_dim=min(16, 4 * self.num_classes))
            self.D = ImageDiscriminator(nc=nc, ndf=settings.ndf, num_classes=self.num_classes if self.conditional else 0,
                                        image_size=size)
        self.G = build_architecture(self.arch, self.g_kwargs).to(self.device)
        self.D = self.D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=settings.lr_g, betas=(settings.beta1, settings.beta2))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=settings.lr_d, betas=(settings.beta1, settings.beta2))
        self.gen = torch.Generator().manual_seed(settings.seed + 1)
        fixed = torch.Generator().manual_seed(settings.seed + 2)
        self.fixed_z = torch.randn(GRID_SEEDS, settings.nz, generator=fixed)
        # one class per column of the 8×8 grid (classes repeat across the columns when there are fewer than 8)
        self.fixed_y = (torch.arange(GRID_SEEDS) % 8) % max(1, self.num_classes) if self.conditional else None
        self.step = 0
        self.lod = 0.0
        self.resolution, self.alpha = size, 1.0  # growing: the current resolution and fade-in weight

    # ---- one step ---------------------------------------------------------------------------
    def _g(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        out: torch.Tensor = G(z, y) if self.conditional else G(z)
        return out

    def _d(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.augment:
            x = L.diff_augment(x, self.gen, translation=0.125, cutout=0.25, color=x.shape[1] == 3)
        if self.s.grow:
            out: torch.Tensor = self.D(x, self.lod, y) if self.conditional else self.D(x, self.alpha)
            return out
        out = self.D(x, y if self.conditional else None)
        return out

    def train_step(self) -> dict[str, float]:
        """One D step and one G step; returns the losses (floats) and advances :attr:`step`."""
        s = self.s
        if s.grow:
            self.resolution, self.alpha = self.schedule.at(self.step)
            self.lod = self.schedule.lod(self.step, s.image_size)
            for G in (self.G, self.G_ema):
                G.get_buffer("lod").fill_(self.lod)
        self.G.train()
        self.D.train()
        n = s.batch_size
        idx = torch.randint(0, len(self.data), (n,), generator=self.gen)
        real = self.data.as_float(idx).to(self.device)
        if s.grow:  # reals at the current resolution, faded like the generator's output
            from .progressive import downsample_to, fade_reals

            real = fade_reals(downsample_to(real, self.resolution), self.alpha)
        y_real = self.data.labels[idx].to(self.device) if self.conditional and self.data.labels is not None else None
        z = torch.randn(n, s.nz, generator=self.gen).to(self.device)
        y_fake = torch.randint(0, self.num_classes, (n,), generator=self.gen).to(self.device) if self.conditional else None
        fake = self._g(self.G, z, y_fake)
        if s.grow:  # G draws at full size (its lod upsamples); D judges the current resolution
            from .progressive import downsample_to

            fake = downsample_to(fake, self.resolution)

        real_logits = self._d(real, y_real)
        fake_logits = self._d(fake.detach(), y_fake)
        loss_d = L.d_loss(s.loss, real_logits, fake_logits)
        out = {"loss_d": float(loss_d.detach())}
        if s.loss == "wgan-gp":
            gp = L.gradient_penalty(lambda x: self._d(x, y_real), real, fake.detach(), generator=None)
            loss_d = loss_d + s.gp_weight * gp
            out["gp"] = float(gp.detach())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.opt_d.step()

        loss_g = L.g_loss(s.loss, self._d(fake, y_fake))
        out["loss_g"] = float(loss_g.detach())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()  # type: ignore[no-untyped-call]
        self.opt_g.step()
        # EMA off: the "EMA" copy simply follows the generator (decay 0); on, the decay ramps up as
        # (1 + step) / (10 + step) towards ema_decay, so early samples are not stuck at the initial weights
        decay = min(s.ema_decay, (1 + self.step) / (10 + self.step)) if s.ema else 0.0
        ema_update(self.G_ema, self.G, decay)
        self.step += 1
        bad = {k: v for k, v in out.items() if not math.isfinite(v)}
        if bad:
            raise FloatingPointError(f"non-finite loss at step {self.step}: {bad}; try a lower learning rate, "
                                     f"another loss (hinge is the most forgiving) or DiffAugment on")
        return out

    # ---- samples ------------------------------------------------------------------------------
    @torch.no_grad()
    def _recalibrated(self) -> nn.Module:
        """A copy of the EMA generator with its BatchNorm statistics re-estimated (eval mode)."""
        G = copy.deepcopy(self.G_ema)
        bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
        if bns:
            gen = torch.Generator().manual_seed(self.s.seed + 3)
            for bn in bns:
                bn.reset_running_stats()
                bn.momentum = None
            G.train()
            for _ in range(8):
                z = torch.randn(self.s.batch_size, self.s.nz, generator=gen).to(self.device)
                y = torch.randint(0, self.num_classes, (z.shape[0],), generator=gen).to(self.device) if self.conditional else None
                self._g(G, z, y)
            for bn in bns:
                bn.momentum = 0.1
        return G.eval()

    @torch.no_grad()
    def samples(self, z: torch.Tensor, y: torch.Tensor | None, G: nn.Module | None = None) -> torch.Tensor:
        """Images in [-1, 1] (CPU) from the (recalibrated) EMA generator, in batches."""
        G = G if G is not None else self._recalibrated()
        outs = []
        for i in range(0, z.shape[0], 128):
            yy = y[i:i + 128].to(self.device) if y is not None else None
            outs.append(self._g(G, z[i:i + 128].to(self.device), yy).float().cpu().clamp(-1, 1))
        return torch.cat(outs)

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """The fixed-seed grid (C, H, W) in [0, 1]: 8×8 samples of the EMA generator."""
        import torchvision

        x = self.samples(self.fixed_z, self.fixed_y)
        grid: torch.Tensor = torchvision.utils.make_grid((x + 1) / 2, nrow=8, padding=2, pad_value=0.5)
        if self.s.image_size <= 32:  # small images: doubled so the page shows them at a readable size
            grid = F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]
        return grid

    # ---- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**gan_state(self), "step": torch.tensor(self.step)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_gan_state(self, state)
        self.step = int(state["step"])


# ---- live metrics -------------------------------------------------------------------------------
class _Features(nn.Module):
    """A feature network for torchmetrics' FID/KID: images in [0, 1] -> (N, num_features)."""

    def __init__(self, body: nn.Module, num_features: int, prepare: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.body = body
        self.num_features = num_features
        self.prepare = prepare

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h: torch.Tensor = self.body(self.prepare(x.float()))
        return h.flatten(1) if h.dim() == 2 else h.mean(dim=(2, 3))


def feature_network(kind: str, channels: int) -> tuple[nn.Module | None, str]:
    """The feature network FID/KID can use offline, and a sentence saying which (or that there is none).

    Digits: the studio's digit evaluator (its penultimate 128 features). Your images: VGG16's conv
    features (pooled relu5_3, 512) if ``timm/vgg16.tv_in1k`` is already in the Hugging Face cache —
    nothing is downloaded.
    """
    if kind == "digits":
        from ..evaluation.protocols import digit_classifier

        clf, _ = digit_classifier()
        body = clf.get_submodule("features")

        def to_digits(x: torch.Tensor) -> torch.Tensor:
            x = x.mean(dim=1, keepdim=True) if x.shape[1] == 3 else x
            x = F.interpolate(x, size=32, mode="area") if x.shape[-1] != 32 else x
            return x * 2 - 1

        return _Features(body, 128, to_digits), "the studio's digit evaluator (128 features of its last conv stage)"
    from ..errors import GanStudioError
    from ..perceptual import IMAGENET_MEAN, IMAGENET_STD, load_vgg16

    try:
        vgg = load_vgg16(download=False)
    except GanStudioError:
        return None, ("no feature network is available offline (VGG16, timm/vgg16.tv_in1k, is not in the Hugging Face "
                      "cache), so FID/KID are not computed; the pixel diversity ratio below still shows collapse")
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def to_vgg(x: torch.Tensor) -> torch.Tensor:
        x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
        x = F.interpolate(x, size=64, mode="bilinear", align_corners=False) if x.shape[-1] < 64 else x
        return (x - mean.to(x.device)) / std.to(x.device)

    return _Features(vgg, 512, to_vgg), "VGG16 (ImageNet, timm/vgg16.tv_in1k from the local Hub cache), pooled relu5_3 features"


def pixel_diversity(x: torch.Tensor, gen: torch.Generator, pairs: int = 512) -> float:
    """Mean L2 distance between random pairs of images (pixel space); 0 when all are the same."""
    n = x.shape[0]
    a = torch.randint(0, n, (pairs,), generator=gen)
    b = (a + torch.randint(1, n, (pairs,), generator=gen)) % n
    return float((x[a] - x[b]).flatten(1).norm(dim=1).mean())


class LiveMetrics:
    """Quality and diversity of the EMA generator during training (see the module docstring)."""

    def __init__(self, data: ImageData, *, n: int = 256, seed: int = 0) -> None:
        self.data = data
        self.n = n
        self.gen = torch.Generator().manual_seed(seed + 5)
        self.pick = torch.randperm(len(data), generator=self.gen)[: min(len(data), 1000)]
        self.real = data.as_float(self.pick)
        self.real_div = pixel_diversity(self.real, torch.Generator().manual_seed(seed))
        self.feature, self.feature_text = feature_network(data.kind, data.channels)

    def describe(self) -> str:
        """What is measured, in words (shown in the tab and the card)."""
        lines = []
        if self.data.kind == "digits":
            lines.append("quality: the digit evaluator's class accuracy (conditional: share of samples recognised as "
                         "the class asked for) and confident share; diversity: classes present out of 10 and the "
                         "class entropy (max ln 10 = 2.303)")
        lines.append(f"FID/KID features: {self.feature_text}")
        lines.append("pixel diversity ratio: mean distance between random pairs of samples ÷ the same for your images "
                     "(≈ 1 as varied as the data; → 0 collapse); for a class-conditional model also the within-class "
                     "diversity ratio, the same per class (→ 0: the generator ignores z and draws one image per class)")
        return "; ".join(lines)

    @torch.no_grad()
    def measure(self, trainer: ImageGANTrainer) -> dict[str, Any]:
        """Score ``trainer``'s EMA generator on :attr:`n` fixed-seed samples."""
        gen = torch.Generator().manual_seed(trainer.s.seed + 7)
        z = torch.randn(self.n, trainer.s.nz, generator=gen)
        y = torch.arange(self.n) % trainer.num_classes if trainer.conditional else None
        fake = trainer.samples(z, y)
        out: dict[str, Any] = {"step": trainer.step,
                               "pixel_diversity_ratio": round(pixel_diversity(fake, torch.Generator().manual_seed(1))
                                                              / max(self.real_div, 1e-8), 4)}
        if y is not None and self.data.labels is not None:  # diversity within each class (z ignored = collapse)
            real_labels = self.data.labels[self.pick]
            ratios = []
            for c in range(trainer.num_classes):
                f, r = fake[y == c], self.real[real_labels == c]
                if f.shape[0] >= 2 and r.shape[0] >= 2:
                    g = torch.Generator().manual_seed(c)
                    ratios.append(pixel_diversity(f, g, pairs=128) / max(pixel_diversity(r, g, pairs=128), 1e-8))
            if ratios:
                out["within_class_diversity_ratio"] = round(sum(ratios) / len(ratios), 4)
        if self.data.kind == "digits":
            from ..evaluation.classifiers import predict
            from ..evaluation.metrics import class_histogram, entropy_nats
            from ..evaluation.protocols import digit_classifier

            clf, _ = digit_classifier()
            digits = fake.mean(dim=1, keepdim=True) if fake.shape[1] == 3 else fake
            digits = F.interpolate(digits, size=32, mode="area") if digits.shape[-1] != 32 else digits
            logits = predict(clf, digits)
            pred = logits.argmax(1)
            hist = class_histogram(pred, 10)
            out["classes_present"] = int(sum(1 for c in hist if c > 0))
            out["class_entropy_nats"] = round(entropy_nats(hist), 4)
            out["confident_share"] = round(float((logits.softmax(1).max(1).values >= 0.9).float().mean()), 4)
            if y is not None:
                names = self.data.classes
                asked = torch.tensor([int(names[int(c)]) if names[int(c)].isdigit() else -1 for c in y])
                out["class_accuracy"] = round(float((pred == asked).float().mean()), 4)
        if self.feature is not None:
            out.update(self._fid_kid(fake))
        return out

    def _fid_kid(self, fake: torch.Tensor) -> dict[str, float]:
        import warnings

        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        assert self.feature is not None
        subset = min(100, fake.shape[0], self.real.shape[0])
        fid = FrechetInceptionDistance(feature=self.feature, normalize=True, reset_real_features=False)
        with warnings.catch_warnings():  # "will save all extracted features": a few hundred here
            warnings.simplefilter("ignore", UserWarning)
            kid = KernelInceptionDistance(feature=self.feature, normalize=True, subsets=20, subset_size=subset,
                                          reset_real_features=False)
        for metric in (fid, kid):
            for i in range(0, self.real.shape[0], 256):
                metric.update((self.real[i:i + 256] + 1) / 2, real=True)
            for i in range(0, fake.shape[0], 256):
                metric.update((fake[i:i + 256] + 1) / 2, real=False)
        kid_mean, _ = kid.compute()
        return {"fid": round(float(fid.compute()), 3), "kid": round(float(kid_mean), 5)}


# ---- export --------------------------------------------------------------------------------------
def export_model(trainer: ImageGANTrainer, out_dir: Path, *, metrics: Mapping[str, Any],
                 measured: str, elapsed_s: float) -> Path:
    """Write the EMA generator as a model folder (``config.json``, ``model.safetensors``,
    ``README.md`` card with the data summary, settings and metrics, ``samples.png``)."""
    from ..weights import save_model_folder

    out_dir.mkdir(parents=True, exist_ok=True)
    G = trainer._recalibrated().cpu()
    if trainer.s.grow:
        G.get_buffer("lod").fill_(0.0)
    s, data = trainer.s, trainer.data
    summary = data.summary()
    task = "conditional" if trainer.conditional else "unconditional"
    meta = {"task": task, "image_size": s.image_size, "channels": data.channels,
            "labels": data.classes if trainer.conditional else [], "exclusive": [], "license": "other",
            "description": f"trained in GAN Studio on {summary['source']} ({summary['images']} images, "
                           f"{s.image_size} px, {trainer.step} steps)",
            "metrics": dict(metrics), "training": {"settings": s.to_dict(), "data": summary}}
    save_grid(trainer.sample_grid(), out_dir / "samples.png")
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items() if k != "step")
    techniques = [f"loss: {s.loss}", f"DiffAugment: {'on' if trainer.augment else 'off'}",
                  f"EMA of the generator: {'decay ' + str(s.ema_decay) if s.ema else 'off'}",
                  f"progressive growing (ProGAN, fade-in): {'on' if s.grow else 'off'}",
                  f"Adam lr_G={s.lr_g}, lr_D={s.lr_d}, betas=({s.beta1}, {s.beta2}), batch {s.batch_size}",
                  "spectral normalisation on every discriminator layer" + (", projection head for the classes"
                                                                           if trainer.conditional else "")]
    skipped = (f"{summary['skipped']} file(s) were skipped (not images, corrupt or too large)"
               + (": " + "; ".join(summary["skipped_examples"]) if summary["skipped_examples"] else "")
               if summary["skipped"] else "no file was skipped")
    card = f"""---
library_name: gan_studio
tags:
- gan
- {task}
- gan_studio
- trained-in-gan-studio
---

# {out_dir.parent.name if out_dir.name == MODEL_DIR else out_dir.name}

A `{trainer.arch}` generator trained in GAN Studio ("Train on images"). Call `G(z{", labels" if trainer.conditional else ""})`
with z ~ N(0, I) of size {s.nz}{"; labels are ints for the classes " + ", ".join(data.classes) if trainer.conditional else ""}.

![samples of the EMA generator, fixed seeds](samples.png)

## Data

{summary['source']}: {summary['images']} images at {s.image_size}×{s.image_size} ({data.channels} channel(s)),
centre-cropped and resized; {skipped}.{" Classes (one sub-folder each): " + ", ".join(f"{k} ({v})" for k, v in summary['per_class'].items()) + "." if summary['per_class'] else ""}

The licence of these weights follows the licence of the training images; record it before sharing.

## Training

{trainer.step} steps in {elapsed_s / 60:.1f} min on `{s.device}`.

""" + "\n".join(f"- {t}" for t in techniques) + f"""

Settings: `{json.dumps(s.to_dict(), sort_keys=True)}`

## Metrics (last measurement)

{measured}

| metric | value |
|---|---|
{rows}
"""
    save_model_folder(G, out_dir, architecture=trainer.arch, kwargs=trainer.g_kwargs, meta=meta, card=card)
    return out_dir


# ---- the loop --------------------------------------------------------------------------------------
def save_grid(grid: torch.Tensor, path: Path) -> None:
    """Save a (C, H, W) grid in [0, 1] as a PNG (fast zlib level: grids are written often)."""
    from ..image_io import tensor_to_pil

    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_to_pil(grid * 2 - 1)[0].save(path, format="PNG", compress_level=1)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _atomic_grid(trainer: ImageGANTrainer, path: Path) -> None:
    tmp = path.with_name("grid.tmp.png")
    save_grid(trainer.sample_grid(), tmp)
    os.replace(tmp, path)


def train_images(
    folder: str | os.PathLike[str],
    settings: TrainSettings,
    *,
    data: ImageData | None = None,
    stop: Stopper | None = None,
    max_seconds: float | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train in ``folder`` until ``settings.steps`` (resuming from its training state), ``stop`` is
    set or ``max_seconds`` pass; export the model folder (``folder/model``) and return the final
    progress record.

    ``data`` is decoded once and kept as ``folder/data.pt`` (so a resume needs no upload). The
    progress record (``folder/progress.json``, also passed to ``report``) holds the status, the step,
    the loss history, the metric history, the data summary and a description of the measures; the
    fixed-seed grid is ``folder/grid.png``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if data is None:
        if not (out / DATA_NAME).is_file():
            raise UserInputError(f"{out} holds no training data ({DATA_NAME}); start a run with data")
        data = ImageData.load(out / DATA_NAME)
    elif not (out / DATA_NAME).is_file():
        data.save(out / DATA_NAME)
    t_start = time.monotonic()
    trainer = ImageGANTrainer(settings, data)
    progress: dict[str, Any] = {"status": "running", "step": 0, "total": settings.steps, "losses": [], "metrics": [],
                                "data": data.summary(), "settings": settings.to_dict(), "elapsed_s": 0.0,
                                "message": "", "arch": trainer.arch, "conditional": trainer.conditional,
                                "augment": trainer.augment}
    state_path = out / STATE_NAME
    elapsed0 = 0.0
    if state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        trainer.load_state_dict(state["trainer"])
        old = json.loads((out / PROGRESS_NAME).read_text(encoding="utf-8")) if (out / PROGRESS_NAME).is_file() else {}
        progress["losses"] = [row for row in old.get("losses", []) if row[0] <= trainer.step]
        progress["metrics"] = [m for m in old.get("metrics", []) if m.get("step", 0) <= trainer.step]
        elapsed0 = float(old.get("elapsed_s", 0.0))
        progress["message"] = f"resumed from step {trainer.step}"
        logger.info("resuming %s from step %d", out, trainer.step)
    metrics = LiveMetrics(data, n=settings.eval_samples, seed=settings.seed)
    progress["measures"] = metrics.describe()

    def save_state() -> None:
        tmp = state_path.with_name(state_path.name + ".tmp")
        torch.save({"trainer": trainer.state_dict(), "settings": json.dumps(settings.to_dict(), sort_keys=True)}, tmp)
        os.replace(tmp, state_path)
        _atomic_write(out / PROGRESS_NAME, json.dumps(progress))  # the history up to this state

    def publish(status: str | None = None) -> None:
        if status:
            progress["status"] = status
        progress["step"] = trainer.step
        progress["elapsed_s"] = round(elapsed0 + time.monotonic() - t_start, 2)
        if len(progress["losses"]) > 600:  # keep the file small: thin the history, keep the latest
            progress["losses"] = progress["losses"][::2]
        _atomic_write(out / PROGRESS_NAME, json.dumps(progress))
        if report is not None:
            report(dict(progress))

    _atomic_grid(trainer, out / GRID_NAME)
    if trainer.step == 0:
        save_grid(trainer.sample_grid(), out / SAMPLES_DIR / "step_000000.png")
    publish()
    step_times: list[float] = []
    last_publish = time.monotonic()
    stopped_by = ""
    while trainer.step < settings.steps:
        if stop is not None and stop.is_set():
            stopped_by = "stopped"
            break
        if max_seconds is not None and time.monotonic() - t_start > max_seconds:
            stopped_by = f"stopped at the time budget of {max_seconds:g} s"
            break
        t0 = time.perf_counter()
        losses = trainer.train_step()
        step_times.append(time.perf_counter() - t0)
        progress["losses"].append([trainer.step, *(round(losses[k], 4) for k in ("loss_d", "loss_g"))])
        progress["step_time_s"] = round(sum(step_times[-20:]) / len(step_times[-20:]), 4)
        if settings.grow:
            progress["lod"] = round(trainer.lod, 3)
            progress["resolution"] = trainer.resolution
        if settings.eval_every and trainer.step % settings.eval_every == 0 and trainer.step < settings.steps:
            progress["metrics"].append(metrics.measure(trainer))
            save_grid(trainer.sample_grid(), out / SAMPLES_DIR / f"step_{trainer.step:06d}.png")  # the grid's history
            save_state()  # a checkpoint: a killed worker loses at most eval_every steps
        if trainer.step % settings.sample_every == 0:
            _atomic_grid(trainer, out / GRID_NAME)
            publish()
            last_publish = time.monotonic()
        elif time.monotonic() - last_publish > 2.0:  # the step count and losses between grids
            publish()
            last_publish = time.monotonic()
    progress["status"] = "evaluating"
    publish()
    if not progress["metrics"] or progress["metrics"][-1]["step"] != trainer.step:
        progress["metrics"].append(metrics.measure(trainer))
    _atomic_grid(trainer, out / GRID_NAME)
    save_grid(trainer.sample_grid(), out / SAMPLES_DIR / f"step_{trainer.step:06d}.png")
    save_state()
    progress["status"] = "exporting"
    publish()
    export_model(trainer, out / MODEL_DIR, metrics=progress["metrics"][-1], measured=metrics.describe(),
                 elapsed_s=elapsed0 + time.monotonic() - t_start)
    progress["message"] = stopped_by or f"finished {trainer.step} steps"
    publish("stopped" if stopped_by else "finished")
    return progress


def publish_model_folder(model_dir: str | os.PathLike[str], repo_id: str, *, token: str | None,
                         private: bool = True) -> str:
    """Upload a trained model folder (config, weights, card, samples) to the Hub repo ``repo_id`` with
    the user's ``token`` — used for this call only, never stored or logged. The folder is first
    loaded strictly (so only a loadable model is published); the upload is the one
    :meth:`Generator.push_to_hub <gan_studio.architectures.base.Generator.push_to_hub>` makes, with the
    card's ``samples.png`` included. Returns the commit URL."""
    from .. import hub
    from ..architectures import architecture_class
    from ..folder import read_model_folder

    folder = Path(model_dir)
    if not repo_id or "/" not in repo_id:
        raise UserInputError(f"repo id {repo_id!r} is not of the form owner/name (e.g. your-name/my-gan)")
    info = read_model_folder(folder)
    if info.architecture is None:
        raise UserInputError(f"{folder} is not a gan_studio model folder")
    architecture_class(info.architecture).from_pretrained(folder)  # strict load: refuse a broken folder
    return hub.upload_folder(repo_id, folder, token=token, private=private,
                             commit_message="Upload a GAN trained in GAN Studio")
