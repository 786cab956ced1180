"""Progressive growing of GANs (Karras et al. 2018, "ProGAN"), for the studio's ``pggan`` architecture.

Reusable by any recipe that trains on an image tensor:

>>> import torch
>>> from gan_studio.training.progressive import ProgressiveConfig, ProgressiveGAN, ProgressiveSchedule
>>> images = torch.rand(64, 3, 16, 16) * 2 - 1                      # (N, C, H, W) in [-1, 1]
>>> schedule = ProgressiveSchedule([4, 8, 16], steps_per_phase=200, fade_fraction=0.5)
>>> gan = ProgressiveGAN(images, schedule, ProgressiveConfig(z_dim=32, fmaps_base=256, fmaps_max=32))
>>> while not gan.done:                                              # doctest: +SKIP
...     losses = gan.step()
>>> gan.sample([1, 2, 3]).shape                                      # doctest: +SKIP
torch.Size([3, 3, 16, 16])

What it does, as in the paper and NVIDIA's reference implementation (``progressive_growing_of_gans``):

* **Schedule** (:class:`ProgressiveSchedule`): one phase per resolution (4 → 8 → … → final). The
  first phase trains at its resolution only; every later phase first *fades in* the new resolution
  (``alpha`` goes linearly 0 → 1 over ``fade_fraction`` of the phase) and then stabilises at it
  (``alpha = 1``).
* **Generator**: the ``pggan`` architecture (genforce layout) at the final resolution; its ``lod``
  buffer (level of detail) carries the schedule: ``lod = log2(final / resolution) + (1 − alpha)``,
  so a fractional lod blends the new block's ToRGB output with the nearest-upsampled image of the
  block before, with weight ``alpha`` on the new one. Pixel norm, equalised learning rate and
  nearest upsampling are the architecture's own.
* **Discriminator** (:class:`ProgressiveDiscriminator`): the mirror image, one FromRGB 1×1
  convolution per resolution, two 3×3 convolutions and 2×2 average pooling per block, minibatch
  standard deviation (group size 4) before the last block, equalised learning rate, no
  normalisation. During a fade its input blends the new block with the downsampled image through
  the previous FromRGB, weight ``alpha`` on the new block.
* **Real images** are box-downsampled to the current resolution; during a fade they are blended
  with their own 2× coarser version (weight ``1 − alpha``), so reals and fakes change alike.
* **Loss**: WGAN-GP (λ = 10, target 1) plus the drift term ``ε·E[D(x)²]`` with ε = 0.001,
  one critic update per generator update, Adam lr 0.001, betas (0, 0.99), eps 1e-8, and an EMA
  of the generator weights (decay 0.999) for sampling and export. Unlike ProGAN, the EMA's warm-up
  restarts at each phase (:meth:`ProgressiveGAN.ema_decay_at`): with short schedules a plain 0.999
  average keeps a large share of the untrained initial weights of the newest layers.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .loop import ema_update, gan_state, load_gan_state
from .losses import gradient_penalty

logger = logging.getLogger(__name__)

__all__ = [
    "MinibatchStdDev",
    "minibatch_stddev",
    "ProgressiveConfig",
    "ProgressiveDiscriminator",
    "ProgressiveGAN",
    "ProgressiveSchedule",
    "fade_reals",
]

ARCHITECTURE = "pggan"
MIN_RESOLUTION = 4


def _is_power_of_two(n: int) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 1 and n & (n - 1) == 0


@dataclass(frozen=True)
class Phase:
    """One resolution of a :class:`ProgressiveSchedule`: steps ``[start, start + steps)``, the first
    ``fade_steps`` of which fade the resolution in."""

    resolution: int
    start: int
    steps: int
    fade_steps: int


class ProgressiveSchedule:
    """Which resolution and fade-in ``alpha`` each training step uses.

    Args:
        resolutions: increasing resolutions, each twice the one before (e.g. ``[4, 8, 16, 32]``);
            the first must be >= 4 and the last is the generator's output size.
        steps_per_phase: steps at each resolution (one int for all, or one per resolution).
        fade_fraction: share of each phase after the first spent fading the new resolution in
            (ProGAN: equal fade and stabilisation, 0.5); 0 switches resolutions abruptly.
    """

    def __init__(self, resolutions: Sequence[int], steps_per_phase: int | Sequence[int],
                 fade_fraction: float = 0.5) -> None:
        res = [int(r) for r in resolutions]
        if not res:
            raise ValueError("resolutions must name at least one resolution, e.g. [4, 8, 16, 32]")
        if not all(_is_power_of_two(r) and r >= MIN_RESOLUTION for r in res):
            raise ValueError(f"resolutions must be powers of two >= {MIN_RESOLUTION}, got {res}")
        if any(b != 2 * a for a, b in zip(res, res[1:])):
            raise ValueError(f"each resolution must be twice the one before, got {res}")
        steps = [steps_per_phase] * len(res) if isinstance(steps_per_phase, int) else list(steps_per_phase)
        if len(steps) != len(res) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in steps):
            raise ValueError(f"steps_per_phase must be a positive int or one per resolution ({len(res)}), "
                             f"got {steps_per_phase!r}")
        if not 0.0 <= fade_fraction <= 1.0:
            raise ValueError(f"fade_fraction must be in [0, 1], got {fade_fraction!r}")
        self.resolutions = tuple(res)
        self.fade_fraction = float(fade_fraction)
        phases, start = [], 0
        for i, (r, s) in enumerate(zip(res, steps)):
            fade = 0 if i == 0 else int(round(fade_fraction * s))
            phases.append(Phase(resolution=r, start=start, steps=s, fade_steps=fade))
            start += s
        self.phases = tuple(phases)
        self.total_steps = start

    @property
    def final_resolution(self) -> int:
        """The last (output) resolution."""
        return self.resolutions[-1]

    def phase_index(self, step: int) -> int:
        """Index of the phase that ``step`` (0-based) belongs to; steps past the end stay in the last."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        for i, ph in enumerate(self.phases):
            if step < ph.start + ph.steps:
                return i
        return len(self.phases) - 1

    def at(self, step: int) -> tuple[int, float]:
        """``(resolution, alpha)`` of ``step``: alpha rises linearly from 0 at a fading phase's first
        step to 1 at the end of its fade and stays 1 while the phase stabilises."""
        ph = self.phases[self.phase_index(step)]
        t = step - ph.start
        alpha = 1.0 if t >= ph.fade_steps else t / ph.fade_steps
        return ph.resolution, alpha

    def lod(self, step: int, final_resolution: int | None = None) -> float:
        """The ``pggan`` level of detail for ``step``: ``log2(final / resolution) + (1 - alpha)``
        (0 = full resolution; fractional during a fade)."""
        final = self.final_resolution if final_resolution is None else final_resolution
        res, alpha = self.at(step)
        return math.log2(final / res) + (1.0 - alpha)

    def __repr__(self) -> str:
        return (f"ProgressiveSchedule(resolutions={list(self.resolutions)}, "
                f"steps_per_phase={[p.steps for p in self.phases]}, fade_fraction={self.fade_fraction})")


@dataclass(frozen=True)
class ProgressiveConfig:
    """Hyperparameters of :class:`ProgressiveGAN` (ProGAN's defaults, small networks).

    Channels at resolution ``r`` are ``min(fmaps_base // r, fmaps_max)`` in both networks (genforce's
    rule; ProGAN's CelebA-HQ model: 16384 and 512).
    """

    z_dim: int = 128               # latent length (pixel-normalised by the generator)
    fmaps_base: int = 1024
    fmaps_max: int = 64
    batch_size: int = 32
    lr: float = 1e-3               # Adam, both networks (equalised learning rate makes this safe)
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    gp_lambda: float = 10.0        # WGAN-GP weight (target gradient norm 1)
    drift: float = 1e-3            # epsilon of the drift term eps * E[D(real)^2]
    n_critic: int = 1              # critic updates per generator update (ProGAN: 1)
    ema_decay: float = 0.999       # generator EMA used by sample() and export
    ema_phase_warmup: bool = True  # restart the EMA's warm-up at each phase (see ProgressiveGAN.ema_decay_at)
    mbstd_group: int = 4           # minibatch-stddev group size
    mirror: bool = False           # random horizontal flips of the reals (not for digits)
    final_tanh: bool = False       # squash the generator output with tanh (ProGAN: linear output)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ProgressiveConfig:
        """Build from a dict, ignoring keys that are not fields (a recipe config holds more)."""
        names = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in values.items() if k in names}
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of the fields."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


# ---- discriminator ---------------------------------------------------------------------------------
class EqualizedConv2d(nn.Module):
    """Convolution with ProGAN's equalised learning rate: weights ~N(0, 1) scaled by ``gain / sqrt(fan_in)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """Linear layer with the equalised learning rate."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """ProGAN's minibatch standard deviation: append one feature map holding the standard deviation
    of the features across groups of ``group_size`` images (averaged over channels and pixels), so D
    sees how varied a batch is (a batch of near-copies is easy to call fake, which pushes G away from
    collapse).

    The group is the largest divisor of the batch size that is <= ``group_size``.
    """
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group_size, n) + 1) if n % d == 0)
    y = x.reshape(g, n // g, c, h, w)
    y = y - y.mean(dim=0, keepdim=True)
    y = torch.sqrt(y.pow(2).mean(dim=0) + 1e-8)          # [n/g, c, h, w]
    y = y.mean(dim=(1, 2, 3)).reshape(n // g, 1, 1, 1)   # [n/g, 1, 1, 1]
    y = y.repeat(g, 1, h, w)                              # image i gets group i % (n/g), as in ProGAN
    return torch.cat([x, y], dim=1)


class MinibatchStdDev(nn.Module):
    """:func:`minibatch_stddev` as a layer (no parameters)."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, self.group_size)


class DiscriminatorBlock(nn.Module):
    """Two 3×3 equalised convolutions (leaky ReLU 0.2) and 2×2 average pooling: one resolution down."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, padding=1)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv0(h), 0.2)
        h = F.leaky_relu(self.conv1(h), 0.2)
        return F.avg_pool2d(h, 2)


class ProgressiveDiscriminator(nn.Module):
    """ProGAN's discriminator: ``D(x, alpha) -> scores (N,)`` for images at any resolution from 4 to
    ``resolution`` (the input's side selects the stage).

    Args:
        resolution: the largest input side (a power of two >= 4).
        image_channels: input channels.
        fmaps_base, fmaps_max: channels at resolution r are ``min(fmaps_base // r, fmaps_max)``.
        mbstd_group: minibatch-stddev group size.
    """

    def __init__(self, resolution: int, image_channels: int = 3, fmaps_base: int = 1024, fmaps_max: int = 64,
                 mbstd_group: int = 4) -> None:
        super().__init__()
        if not _is_power_of_two(resolution) or resolution < MIN_RESOLUTION:
            raise ValueError(f"resolution must be a power of two >= {MIN_RESOLUTION}, got {resolution!r}")

        def nf(r: int) -> int:
            return max(1, min(fmaps_base // r, fmaps_max))

        self.resolution = resolution
        self.num_stages = int(math.log2(resolution)) - 1   # stage k works at 4 * 2**k px
        self.from_rgb = nn.ModuleList(
            EqualizedConv2d(image_channels, nf(MIN_RESOLUTION * 2**k), 1) for k in range(self.num_stages))
        # blocks[k - 1] takes stage k (4·2^k px) down to stage k - 1
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(nf(r), nf(r // 2)) for r in (MIN_RESOLUTION * 2**k for k in range(1, self.num_stages)))
        c4 = nf(MIN_RESOLUTION)
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.final_conv = EqualizedConv2d(c4 + 1, c4, 3, padding=1)
        self.final_dense = EqualizedLinear(c4 * MIN_RESOLUTION * MIN_RESOLUTION, c4)
        self.out = EqualizedLinear(c4, 1, gain=1.0)

    def _rgb(self, k: int, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.from_rgb[k](x), 0.2)

    def _block(self, k: int, h: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.blocks[k - 1](h)
        return out

    def forward(self, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """Scores of images ``x`` (N, C, r, r); ``alpha`` < 1 fades stage r in over stage r/2."""
        side = x.shape[-1]
        if not _is_power_of_two(side) or not MIN_RESOLUTION <= side <= self.resolution or x.shape[-2] != side:
            raise ValueError(f"images must be square with a power-of-two side in [4, {self.resolution}], "
                             f"got {tuple(x.shape)}")
        k = int(math.log2(side)) - 2
        h = self._rgb(k, x)
        if k > 0:
            h = self._block(k, h)
            if alpha < 1.0:
                h = torch.lerp(self._rgb(k - 1, F.avg_pool2d(x, 2)), h, alpha)
        for j in range(k - 1, 0, -1):
            h = self._block(j, h)
        h = F.leaky_relu(self.final_conv(self.mbstd(h)), 0.2)
        h = F.leaky_relu(self.final_dense(h.flatten(1)), 0.2)
        out: torch.Tensor = self.out(h)
        return out.squeeze(1)


def downsample_to(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Box-filter (average) ``x`` down to ``resolution`` (a power-of-two divisor of its side)."""
    factor = x.shape[-1] // resolution
    return x if factor == 1 else F.avg_pool2d(x, factor)


def fade_reals(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """ProGAN's real-image fade: ``lerp(upsample(avg_pool(x)), x, alpha)`` (``alpha = 1``: ``x`` unchanged)."""
    if alpha >= 1.0 or x.shape[-1] <= MIN_RESOLUTION:
        return x
    coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    return torch.lerp(coarse, x, alpha)


# ---- trainer ---------------------------------------------------------------------------------------
class ProgressiveGAN:
    """A progressively grown ``pggan`` generator and its discriminator, trained on an image tensor.

    Args:
        images: training images (N, C, H, W) in [-1, 1] with H = W = the schedule's final resolution.
        schedule: the resolutions, steps and fade (see :class:`ProgressiveSchedule`).
        config: hyperparameters (:class:`ProgressiveConfig`).
        device: where to train (``"cpu"``, ``"cuda"``, …).
        seed: seeds initialisation, minibatches, latents and the penalty's interpolation.

    :meth:`step` runs one training step (``n_critic`` critic updates and one generator update) at
    the resolution and fade the schedule gives for :attr:`step_count`; :meth:`sample` draws images
    from the EMA generator; :meth:`state_dict` / :meth:`load_state_dict` resume;
    :meth:`export_generator` returns the EMA generator at full resolution with its constructor kwargs.
    """

    def __init__(self, images: torch.Tensor, schedule: ProgressiveSchedule, config: ProgressiveConfig | None = None,
                 *, device: str | torch.device = "cpu", seed: int = 0) -> None:
        from ..architectures import build_architecture
        from ..architectures.pggan import RESOLUTIONS

        cfg = config or ProgressiveConfig()
        if images.dim() != 4 or images.shape[-1] != images.shape[-2]:
            raise ValueError(f"images must be a (N, C, H, W) tensor of square images, got shape {tuple(images.shape)}")
        if images.shape[-1] != schedule.final_resolution:
            raise ValueError(f"images are {images.shape[-1]} px but the schedule ends at {schedule.final_resolution} px")
        if schedule.final_resolution not in RESOLUTIONS:
            raise ValueError(f"the pggan architecture builds {', '.join(map(str, RESOLUTIONS))} px; the schedule "
                             f"ends at {schedule.final_resolution}")
        if images.shape[0] < 2:
            raise ValueError(f"need at least 2 training images, got {images.shape[0]}")
        if not torch.isfinite(images).all() or images.min() < -1.0001 or images.max() > 1.0001:
            raise ValueError("images must be finite and scaled to [-1, 1]")
        self.config, self.schedule = cfg, schedule
        self.device = torch.device(device)
        self.seed = seed
        self.images = images.detach().float().cpu()
        self.channels = int(images.shape[1])
        self.generator_kwargs: dict[str, Any] = {
            "resolution": schedule.final_resolution, "z_space_dim": cfg.z_dim, "image_channels": self.channels,
            "final_tanh": cfg.final_tanh, "fmaps_base": cfg.fmaps_base, "fmaps_max": cfg.fmaps_max,
        }
        torch.manual_seed(seed)
        self.G = build_architecture(ARCHITECTURE, self.generator_kwargs).to(self.device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False).eval()
        self.D = ProgressiveDiscriminator(schedule.final_resolution, self.channels, cfg.fmaps_base, cfg.fmaps_max,
                                          cfg.mbstd_group).to(self.device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.step_count = 0
        self.first_lod = math.log2(schedule.final_resolution / schedule.resolutions[0])
        self._set_lod(self.first_lod)

    # ---- training ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once :attr:`step_count` has reached the schedule's total steps."""
        return self.step_count >= self.schedule.total_steps

    def _set_lod(self, lod: float) -> None:
        for g in (self.G, self.G_ema):
            g.get_buffer("lod").fill_(lod)

    def _reals(self, n: int, resolution: int, alpha: float) -> torch.Tensor:
        idx = torch.randint(0, self.images.shape[0], (n,), generator=self.gen)
        x = self.images[idx]
        if self.config.mirror:
            flip = torch.rand(n, generator=self.gen) < 0.5
            x = torch.where(flip.view(n, 1, 1, 1), x.flip(-1), x)
        return fade_reals(downsample_to(x, resolution), alpha).to(self.device)

    def _z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=self.gen).to(self.device)

    def step(self) -> dict[str, float]:
        """One training step at the schedule's resolution and alpha; returns the losses, ``resolution``,
        ``alpha`` and ``lod``."""
        cfg = self.config
        res, alpha = self.schedule.at(self.step_count)
        lod = self.schedule.lod(self.step_count)
        self._set_lod(lod)
        self.G.train()
        self.D.train()
        n = cfg.batch_size

        def critic(x: torch.Tensor) -> torch.Tensor:
            scores: torch.Tensor = self.D(x, alpha)
            return scores

        self.G.requires_grad_(False)
        w_dist = gp = drift = torch.zeros(())
        for _ in range(cfg.n_critic):
            real = self._reals(n, res, alpha)
            with torch.no_grad():
                fake = downsample_to(self.G(self._z(n)), res)
            d_real, d_fake = critic(real), critic(fake)
            w_dist = d_real.mean() - d_fake.mean()
            gp = gradient_penalty(critic, real, fake, generator=self.gen)
            drift = d_real.pow(2).mean()
            loss_d = -w_dist + cfg.gp_lambda * gp + cfg.drift * drift
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
            self.opt_d.step()
        self.G.requires_grad_(True)

        self.D.requires_grad_(False)
        loss_g = -critic(downsample_to(self.G(self._z(n)), res)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.opt_g.step()
        self.D.requires_grad_(True)
        ema_update(self.G_ema, self.G, self.ema_decay_at(self.step_count))
        self.step_count += 1
        return {"w_distance": float(w_dist.detach()), "gp": float(gp.detach()), "drift": float(drift.detach()),
                "loss_g": float(loss_g.detach()), "resolution": float(res), "alpha": round(alpha, 5), "lod": round(lod, 5)}

    def ema_decay_at(self, step: int) -> float:
        """The EMA decay used after ``step``: ``ema_decay``, or with ``ema_phase_warmup``
        ``min(ema_decay, (1 + t) / (10 + t))`` where ``t`` counts the steps since the current phase began.

        ProGAN's decay of 0.999 was meant for millions of images; on a short schedule a plain
        average would still hold a large share of the initial weights of the layers that only the
        last phases train, so the warm-up lets the average follow the generator at each new phase."""
        decay = self.config.ema_decay
        if self.config.ema_phase_warmup:
            t = step - self.schedule.phases[self.schedule.phase_index(step)].start
            decay = min(decay, (1.0 + t) / (10.0 + t))
        return decay

    # ---- sampling and export -----------------------------------------------------------------------
    def current_lod(self) -> float:
        """The level of detail of the last trained step (the first phase's before any step)."""
        return self.schedule.lod(self.step_count - 1) if self.step_count else self.first_lod

    @torch.no_grad()
    def sample(self, seeds: Sequence[int], *, ema: bool = True, lod: float | None = None) -> torch.Tensor:
        """Images (len(seeds), C, final, final) in [-1, 1], one per seed (z ~ N(0, I) drawn from
        ``torch.Generator().manual_seed(seed)``), at the current level of detail unless ``lod`` is
        given (lower resolutions come out nearest-upsampled)."""
        z = torch.stack([torch.randn(self.config.z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
        G = self.G_ema if ema else self.G
        was_training = G.training
        G.eval()
        old = float(G.get_buffer("lod"))
        G.get_buffer("lod").fill_(self.current_lod() if lod is None else lod)
        try:
            out: torch.Tensor = G(z.to(self.device)).clamp(-1, 1).cpu()
        finally:
            G.get_buffer("lod").fill_(old)
            G.train(was_training)
        return out

    def export_generator(self) -> tuple[nn.Module, str, dict[str, Any]]:
        """``(EMA generator at full resolution (lod 0, eval mode, CPU), architecture, kwargs)``, for
        :func:`gan_studio.weights.save_model_folder`. Warns if the schedule has not finished."""
        if not self.done:
            logger.warning("exporting after %d of %d steps: the generator has not reached full resolution",
                           self.step_count, self.schedule.total_steps)
        G = copy.deepcopy(self.G_ema).cpu().eval()
        G.get_buffer("lod").fill_(0.0)
        return G, ARCHITECTURE, dict(self.generator_kwargs)

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (tensors and plain values only: loadable with ``weights_only=True``)."""
        return {**gan_state(self), "step_count": self.step_count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (same images, schedule and config)."""
        load_gan_state(self, state)
        self.step_count = int(state["step_count"])
