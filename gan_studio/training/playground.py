"""The 2-D playground: a small GAN on points in the plane, fast enough to watch it learn on a CPU.

After GAN Lab (Kahng et al. 2019, poloclub): a target distribution in the plane, an MLP generator
``G(z) -> (x, y)`` and an MLP discriminator ``D(x, y) -> logit``, trained with a choice of losses and
optimisers one step at a time, so a front end can draw the game as it is played.

>>> pg = Playground(PRESETS["stable"].config)                       # doctest: +SKIP
>>> pg.run(500)                                                      # doctest: +SKIP
>>> snap = pg.snapshot()            # real and fake samples, D's heat map, arrows, warped noise grid

Pure torch and numpy, no UI: :mod:`.playground_draw` renders a :class:`Snapshot`; the Gradio tab
(``gan_studio/ui/train.py``) and ``python -m gan_studio playground`` drive a :class:`Playground`.

Measures (recorded in :attr:`Playground.history` every ``metrics_every`` steps, on a fixed
evaluation sample of real points and a fixed noise batch, so the curves move only when the models do):

* **divergence**: the Jensen–Shannon divergence, in bits (0 = same, 1 = disjoint), between
  histograms of the real and the fake samples on a 48 × 48 grid over the plane, each smoothed by a
  Gaussian of one cell;
* **mode coverage**: the target's modes (the Gaussians' centres; for the curves, points spaced
  along the curve; for user points, k-means centres) and a radius per target. A fake sample
  belongs to its nearest mode if it lies within the radius; a mode is *covered* when it gets at
  least a quarter of the share a perfect generator would give it (``N / (4K)`` of ``N`` samples,
  ``K`` modes). ``quality`` is the share of fake samples that belong to some mode.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UserInputError
from .losses import (
    d_hinge,
    d_lsgan,
    d_minimax,
    d_wgan,
    g_hinge,
    g_lsgan,
    g_minimax,
    g_nonsaturating,
    g_wgan,
    gradient_penalty,
)

__all__ = [
    "ACTIVATIONS",
    "EXTENT",
    "HISTORY_KEYS",
    "LOSSES",
    "LIVE_FIELDS",
    "PRESETS",
    "TARGETS",
    "Loss",
    "Playground",
    "PlaygroundConfig",
    "Preset",
    "Snapshot",
    "Target",
    "coverage",
    "get_preset",
    "js_divergence",
    "make_target",
    "mlp",
    "parse_points_csv",
    "points_from_drawing",
    "single_thread",
    "with_changes",
]

logger = logging.getLogger(__name__)

#: The plane shown and measured: [-EXTENT, EXTENT]² (every built-in target lies inside [-1.2, 1.2]²).
EXTENT = 1.5
MAX_POINTS = 20_000  # largest user point set (CSV or drawing)
HIST_BINS = 48
MAX_HISTORY = 2000  # rows kept in a playground's history; beyond it the rows are thinned by half


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread in this block (in the calling thread; the setting is restored after).

    The playground's MLPs are tiny: one thread is fastest, and with two threads on a busy 2-core
    machine OpenMP's workers wait on each other and a step gets many times slower (bench/playground.py).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---- targets ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A distribution in the plane: ``sample(n, generator)`` plus the modes mode coverage counts.

    ``modes`` (K, 2) and ``radius``: a fake sample belongs to the nearest mode within ``radius``.
    """

    name: str
    sample: Callable[[int, torch.Generator], torch.Tensor]
    modes: torch.Tensor
    radius: float
    description: str


def _mixture(centres: torch.Tensor, std: float) -> Callable[[int, torch.Generator], torch.Tensor]:
    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(centres), (n,), generator=gen)
        return centres[idx] + std * torch.randn(n, 2, generator=gen)

    return sample


def _ring(k: int = 8, radius: float = 1.0, std: float = 0.05) -> Target:
    angles = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
    centres = radius * torch.stack([angles.cos(), angles.sin()], 1)
    return Target("ring", _mixture(centres, std), centres, 3 * std,
                  f"{k} Gaussians (σ = {std}) on a circle of radius {radius}")


def _grid(side: int = 5, spacing: float = 0.5, std: float = 0.03) -> Target:
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    centres = torch.cartesian_prod(ticks, ticks)
    return Target("grid", _mixture(centres, std), centres, 3 * std,
                  f"{side * side} Gaussians (σ = {std}) on a {side} × {side} grid, {spacing} apart")


def _curve(name: str, curve: Callable[[torch.Tensor], torch.Tensor], n_modes: int, noise: float, radius: float,
           description: str) -> Target:
    """A noisy curve ``curve(t)``, t uniform in [0, 1]; its modes are ``n_modes`` points evenly spaced in t."""

    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        return curve(torch.rand(n, generator=gen)) + noise * torch.randn(n, 2, generator=gen)

    modes = curve((torch.arange(n_modes, dtype=torch.float32) + 0.5) / n_modes)
    return Target(name, sample, modes, radius, description)


def _spiral_curve(t: torch.Tensor) -> torch.Tensor:
    theta = 0.5 * math.pi + t * 3.0 * math.pi  # one and a half turns
    r = 0.15 + 0.95 * t
    return torch.stack([r * theta.cos(), r * theta.sin()], -1)


def _moons_curve(t: torch.Tensor) -> torch.Tensor:
    upper = t < 0.5
    s = torch.where(upper, t * 2, t * 2 - 1) * math.pi
    x = torch.where(upper, s.cos(), 1 - s.cos())
    y = torch.where(upper, s.sin(), 0.5 - s.sin())
    return torch.stack([(x - 0.5) * 0.8, (y - 0.25) * 0.8], -1)


def _line_curve(t: torch.Tensor) -> torch.Tensor:
    return torch.stack([-1.0 + 2.0 * t, -0.6 + 1.2 * t], -1)


def _custom(points: torch.Tensor, *, jitter: float = 0.02, k: int = 8, seed: int = 0) -> Target:
    """User points, centred and scaled into [-1, 1]²; modes are k-means centres (seeded)."""
    pts = _normalise_points(points)

    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        return pts[torch.randint(len(pts), (n,), generator=gen)] + jitter * torch.randn(n, 2, generator=gen)

    centres = _kmeans(pts, min(k, len(pts)), seed=seed)
    nearest = torch.cdist(pts, centres).min(dim=1).values
    radius = float(max(0.1, 2.0 * float(nearest.median()) + 3 * jitter))
    return Target("custom", sample, centres, radius, f"{len(pts)} points of your own (k-means: {len(centres)} modes)")


def _normalise_points(points: torch.Tensor) -> torch.Tensor:
    pts = points.to(torch.float32)
    lo, hi = pts.min(0).values, pts.max(0).values
    centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2
    return (pts - centre) / (half if half > 0 else 1.0)


def _kmeans(points: torch.Tensor, k: int, *, seed: int = 0, iters: int = 25) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = points[torch.randperm(len(points), generator=gen)[:k]].clone()
    for _ in range(iters):
        assign = torch.cdist(points, centres).argmin(1)
        for j in range(k):
            members = points[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


TARGETS: dict[str, str] = {
    "ring": "8 Gaussians on a ring: the classic test of mode collapse",
    "grid": "25 Gaussians on a 5 × 5 grid",
    "spiral": "a noisy spiral (one and a half turns)",
    "moons": "two interleaved half-moons",
    "line": "a thin line segment",
    "custom": "points you draw or upload (CSV of x,y)",
}


def make_target(name: str, points: torch.Tensor | None = None, *, seed: int = 0) -> Target:
    """The target called ``name`` (a key of :data:`TARGETS`); ``custom`` needs ``points`` (N, 2)."""
    if name == "ring":
        return _ring()
    if name == "grid":
        return _grid()
    if name == "spiral":
        return _curve("spiral", _spiral_curve, 12, 0.03, 0.18, "a noisy spiral")
    if name == "moons":
        return _curve("moons", _moons_curve, 10, 0.04, 0.2, "two interleaved half-moons")
    if name == "line":
        return _curve("line", _line_curve, 8, 0.02, 0.17, "a line segment")
    if name == "custom":
        if points is None or len(points) < 2:
            raise UserInputError("the 'custom' target needs at least 2 points: draw some or upload a CSV of x,y")
        return _custom(points, seed=seed)
    raise UserInputError(f"unknown target {name!r}; choose one of: {', '.join(TARGETS)}")


def parse_points_csv(data: str | bytes, *, max_points: int = MAX_POINTS) -> torch.Tensor:
    """Points (N, 2) from CSV text: two numeric columns x, y, one point a line; a header line is allowed.

    Raises :class:`~gan_studio.errors.UserInputError` naming the line for anything else (a third
    column is ignored only if it is empty), for fewer than 2 points, non-finite values, or more
    than ``max_points`` points.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UserInputError("the points file is not UTF-8 text: upload a CSV with two columns x,y") from None
    rows: list[tuple[float, float]] = []
    for number, row in enumerate(csv.reader(io.StringIO(data)), start=1):
        cells = [c.strip() for c in row if c.strip() != ""]
        if not cells or cells[0].startswith("#"):
            continue
        if len(cells) != 2:
            raise UserInputError(f"line {number} of the points file has {len(cells)} values ({row!r}); "
                                 "each line must be two numbers: x,y")
        try:
            x, y = float(cells[0]), float(cells[1])
        except ValueError:
            if not rows and number == 1:  # a header such as "x,y"
                continue
            raise UserInputError(f"line {number} of the points file is not two numbers: {row!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise UserInputError(f"line {number} of the points file has a value that is not finite: {row!r}")
        rows.append((x, y))
        if len(rows) > max_points:
            raise UserInputError(f"the points file has more than {max_points} points; use fewer")
    if len(rows) < 2:
        raise UserInputError(f"the points file has {len(rows)} point(s); it needs at least 2 lines of x,y")
    return torch.tensor(rows, dtype=torch.float32)


def points_from_drawing(image: np.ndarray, *, max_points: int = 4000, seed: int = 0) -> torch.Tensor:
    """Points (N, 2) from a drawing: every inked pixel (opaque, or darker than the background) is a point.

    ``image`` is (H, W), (H, W, 3) or (H, W, 4) uint8; the image's y axis points down, the plane's
    up. At most ``max_points`` pixels are kept (a seeded subsample). Raises
    :class:`~gan_studio.errors.UserInputError` when nothing is drawn.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 4 and arr[..., 3].min() < 255:
        ink = arr[..., 3] > 127
    else:
        grey = arr if arr.ndim == 2 else arr[..., :3].mean(axis=2)
        ink = grey < 128 if grey.mean() > 127 else grey > 127
    ys, xs = np.nonzero(ink)
    if len(xs) < 2:
        raise UserInputError("the drawing is empty: draw a few strokes (or upload a CSV of x,y) first")
    h, w = ink.shape
    pts = np.stack([xs / max(w - 1, 1) * 2 - 1, 1 - ys / max(h - 1, 1) * 2], 1).astype(np.float32)
    if len(pts) > max_points:
        pts = pts[np.random.default_rng(seed).choice(len(pts), max_points, replace=False)]
    return torch.from_numpy(pts)


# ---- measures --------------------------------------------------------------------------------------
def _smoothed_histogram(points: torch.Tensor, bins: int, extent: float) -> torch.Tensor:
    idx = ((points.clamp(-extent, extent * (1 - 1e-6)) + extent) / (2 * extent) * bins).long()
    hist = torch.zeros(bins * bins)
    hist.index_add_(0, idx[:, 1] * bins + idx[:, 0], torch.ones(len(points)))
    kernel = torch.exp(-0.5 * torch.arange(-2, 3, dtype=torch.float32) ** 2)
    kernel = kernel / kernel.sum()
    h = hist.view(1, 1, bins, bins)
    h = torch.nn.functional.conv2d(h, kernel.view(1, 1, 1, 5), padding=(0, 2))
    h = torch.nn.functional.conv2d(h, kernel.view(1, 1, 5, 1), padding=(2, 0))
    flat = h.flatten() + 1e-8
    return flat / flat.sum()


def js_divergence(real: torch.Tensor, fake: torch.Tensor, *, bins: int = HIST_BINS, extent: float = EXTENT) -> float:
    """Jensen–Shannon divergence in bits between two point sets, from Gaussian-smoothed histograms.

    0 for identical histograms, 1 for disjoint ones; points outside the plane count on its border.
    """
    p = _smoothed_histogram(real, bins, extent)
    q = _smoothed_histogram(fake, bins, extent)
    m = (p + q) / 2
    js = 0.5 * (p * (p / m).log2()).sum() + 0.5 * (q * (q / m).log2()).sum()
    return float(js.clamp(0.0, 1.0))


def coverage(fake: torch.Tensor, modes: torch.Tensor, radius: float) -> dict[str, Any]:
    """Mode coverage of ``fake`` (N, 2): ``covered`` modes of ``total``, ``quality`` (share of samples
    near a mode) and the per-mode ``counts``; see the module docstring for the rule."""
    dist = torch.cdist(fake, modes)
    nearest, idx = dist.min(dim=1)
    near = nearest <= radius
    counts = torch.bincount(idx[near], minlength=len(modes))
    threshold = max(1.0, len(fake) / (4 * len(modes)))
    covered = int((counts >= threshold).sum())
    return {"covered": covered, "total": len(modes), "quality": float(near.float().mean()),
            "counts": counts.tolist(), "threshold": threshold}


# ---- losses ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loss:
    """A GAN objective: D's and G's losses on D's raw outputs, a gradient penalty weight, and how to
    show D's output as a value in [0, 1] (``display``; ``None`` = scale the heat map to its range)."""

    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    display: Callable[[torch.Tensor], torch.Tensor] | None
    penalty: float
    description: str


LOSSES: dict[str, Loss] = {
    "minimax": Loss("minimax", d_minimax, g_minimax, torch.sigmoid, 0.0,
                    "the original game: G minimises log(1 − D(G(z))); its gradient vanishes when D wins"),
    "non-saturating": Loss("non-saturating", d_minimax, g_nonsaturating, torch.sigmoid, 0.0,
                           "G maximises log D(G(z)) instead: strong gradients early on"),
    "least-squares": Loss("least-squares", d_lsgan, g_lsgan, lambda o: o.clamp(0, 1), 0.0,
                          "LSGAN: D regresses real to 1 and fake to 0; G pulls fakes towards 1"),
    "wgan-gp": Loss("wgan-gp", d_wgan, g_wgan, None, 10.0,
                    "Wasserstein critic with a gradient penalty (λ = 10) keeping it 1-Lipschitz"),
    "hinge": Loss("hinge", d_hinge, g_hinge, lambda o: ((o + 1) / 2).clamp(0, 1), 0.0,
                  "hinge loss: D is pushed only until its margin of 1 is met"),
}


# ---- models ----------------------------------------------------------------------------------------
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "tanh": nn.Tanh,
}


def mlp(n_in: int, n_out: int, depth: int, width: int, activation: str) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units with ``activation``, then a linear layer to ``n_out``."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(width if depth else n_in, n_out))
    return nn.Sequential(*layers)


# ---- configuration ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlaygroundConfig:
    """Everything that defines a run. Fields in :data:`LIVE_FIELDS` may change while it trains
    (:meth:`Playground.update`); any other change starts a new run."""

    target: str = "ring"                 # a key of TARGETS
    loss: str = "non-saturating"         # a key of LOSSES
    noise_dim: int = 2                   # length of z (1-64; the warped grid is drawn for 1 and 2)
    noise: str = "normal"                # "normal" (N(0, I)) or "uniform" ([-1, 1]^d)
    g_depth: int = 2                     # hidden layers of G
    g_width: int = 64                    # units per hidden layer of G
    d_depth: int = 2
    d_width: int = 64
    activation: str = "leaky_relu"       # leaky_relu, relu or tanh (both networks)
    g_optimizer: str = "adam"            # "adam" or "sgd"
    d_optimizer: str = "adam"
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    adam_beta1: float = 0.5
    adam_beta2: float = 0.999
    d_steps: int = 1                     # D updates per G update
    batch_size: int = 256
    seed: int = 0
    metrics_every: int = 10              # steps between measures in the history

    def validated(self) -> PlaygroundConfig:
        """This config, or a :class:`~gan_studio.errors.UserInputError` naming the bad field."""
        def choice(name: str, value: str, options: Sequence[str]) -> None:
            if value not in options:
                raise UserInputError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")

        def whole(name: str, value: int, low: int, high: int) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UserInputError(f"{name} must be a whole number from {low} to {high}, got {value!r}")

        choice("target", self.target, list(TARGETS))
        choice("loss", self.loss, list(LOSSES))
        choice("noise distribution", self.noise, ["normal", "uniform"])
        choice("activation", self.activation, list(ACTIVATIONS))
        choice("generator optimiser", self.g_optimizer, ["adam", "sgd"])
        choice("discriminator optimiser", self.d_optimizer, ["adam", "sgd"])
        whole("noise dimension", self.noise_dim, 1, 64)
        for name in ("g_depth", "d_depth"):
            whole(name.replace("_", " "), getattr(self, name), 0, 8)
        for name in ("g_width", "d_width"):
            whole(name.replace("_", " "), getattr(self, name), 2, 512)
        whole("discriminator steps per generator step", self.d_steps, 1, 20)
        whole("batch size", self.batch_size, 2, 4096)
        whole("metrics every", self.metrics_every, 1, 10_000)
        whole("seed", self.seed, 0, 2**63 - 1)
        for name in ("g_lr", "d_lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise UserInputError(f"{name.replace('_', ' ')} must be in (0, 1], got {value!r}")
        for name in ("adam_beta1", "adam_beta2"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise UserInputError(f"{name.replace('_', ' ')} must be in [0, 1), got {value!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PlaygroundConfig:
        """A config from a dict; unknown keys raise :class:`~gan_studio.errors.UserInputError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserInputError(f"unknown playground setting(s) {unknown}; valid: {', '.join(sorted(known))}")
        return cls(**values).validated()


#: Settings that change a running playground in place (the optimisers keep their state).
LIVE_FIELDS = frozenset({"loss", "g_lr", "d_lr", "d_steps", "batch_size", "metrics_every"})


@dataclass(frozen=True)
class Preset:
    """A named configuration, the number of steps it is meant to run, and what it shows."""

    name: str
    config: PlaygroundConfig
    steps: int
    explanation: str


PRESETS: dict[str, Preset] = {
    "mode collapse": Preset(
        "mode collapse",
        PlaygroundConfig(target="ring", loss="non-saturating", g_lr=5e-3, d_lr=5e-4),
        1000,
        "The generator learns ten times faster than the discriminator (learning rates 5e-3 against 5e-4). "
        "Every step G rushes all its fakes towards wherever D currently says *real*; D slowly catches up and "
        "G jumps on. The fakes collapse into one narrow streak that hops around the ring, touching one mode "
        "at a time at best (mode collapse).",
    ),
    "stable": Preset(
        "stable",
        PlaygroundConfig(target="ring", loss="non-saturating", g_lr=5e-4, d_lr=2e-3),
        1000,
        "The same ring, networks and loss as *mode collapse*, but the discriminator now learns faster "
        "than the generator (5e-4 for G, 2e-3 for D: the two time-scale rule). G always faces an almost "
        "optimal D, whose gradient points each fake to its nearest mode, and the fakes spread over all eight.",
    ),
    "oscillation": Preset(
        "oscillation",
        PlaygroundConfig(target="ring", loss="non-saturating", g_lr=1e-2, d_lr=1e-2, adam_beta1=0.9),
        2000,
        "Large learning rates (1e-2) with heavy momentum (Adam β₁ = 0.9): each network over-reacts to the "
        "other's last move. D's verdict flips from one side of the plane to the other, the fakes swing "
        "across the plane after it, and the losses and D(real), D(fake) keep swinging instead of settling.",
    ),
    "wgan-gp": Preset(
        "wgan-gp",
        PlaygroundConfig(target="ring", loss="wgan-gp", g_lr=2e-4, d_lr=2e-3, adam_beta2=0.9, d_steps=5),
        2000,
        "The ring with a Wasserstein critic and gradient penalty, five critic steps per G step, the critic "
        "learning ten times faster than G. The critic's surface (the heat map) stays smooth and its slope "
        "points towards the data everywhere, so G never loses its gradient: the fakes first form a ring, "
        "then gather onto the modes (slower per step than the log loss, and five times the critic work).",
    ),
    "grid (hinge)": Preset(
        "grid (hinge)",
        PlaygroundConfig(target="grid", loss="hinge", g_width=128, d_width=128, g_depth=3, d_depth=3,
                         g_lr=5e-4, d_lr=2e-3),
        3000,
        "25 modes are harder: wider and deeper MLPs with the hinge loss. The coverage curve climbs as the "
        "warped grid unfolds over the modes; rows it has not reached yet glow green in D's heat map, "
        "D's way of telling G where the data it is missing lies.",
    ),
}


# ---- the playground --------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """What a front end draws: all arrays are numpy, in plane coordinates."""

    step: int                           # generator updates so far
    d_updates: int
    real: np.ndarray                    # (n, 2) real samples (a fixed evaluation sample)
    fake: np.ndarray                    # (m, 2) G(z) on a fixed noise batch
    arrows: np.ndarray                  # (m, 2) -dL_G/dx at each fake: where G's gradient moves it
    heat: np.ndarray                    # (H, W) D's output shown in [0, 1], row 0 at the top (y = +EXTENT)
    heat_range: tuple[float, float]     # raw D output at heat 0 and heat 1
    grid_lines: list[np.ndarray]        # the warped noise grid: polylines (k, 2), empty when noise_dim > 2
    modes: np.ndarray
    radius: float
    history: dict[str, list[float]]
    extent: float = EXTENT
    loss: str = ""
    target: str = ""


HISTORY_KEYS = ("step", "d_loss", "g_loss", "d_real", "d_fake", "js", "coverage", "quality")


class Playground:
    """A 2-D GAN that trains one step at a time.

    Args:
        config: a :class:`PlaygroundConfig` (validated here).
        points: the user's points (N, 2) for ``target="custom"``.
    """

    def __init__(self, config: PlaygroundConfig | None = None, points: torch.Tensor | None = None) -> None:
        self.config = (config or PlaygroundConfig()).validated()
        self.points = points
        cfg = self.config
        self.target = make_target(cfg.target, points, seed=cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.G = mlp(cfg.noise_dim, 2, cfg.g_depth, cfg.g_width, cfg.activation)
            self.D = mlp(2, 1, cfg.d_depth, cfg.d_width, cfg.activation)
        self.g_opt = self._optimizer(self.G, cfg.g_optimizer, cfg.g_lr)
        self.d_opt = self._optimizer(self.D, cfg.d_optimizer, cfg.d_lr)
        eval_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.eval_real = self.target.sample(2048, eval_gen)
        self.eval_z = self.noise(2048, eval_gen)
        self.display_n = 512
        self.g_updates = 0
        self.d_updates = 0
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self._pending: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": []}
        self.record()

    def _optimizer(self, module: nn.Module, kind: str, lr: float) -> torch.optim.Optimizer:
        if kind == "adam":
            return torch.optim.Adam(module.parameters(), lr=lr,
                                    betas=(self.config.adam_beta1, self.config.adam_beta2))
        return torch.optim.SGD(module.parameters(), lr=lr)

    @property
    def loss(self) -> Loss:
        return LOSSES[self.config.loss]

    def noise(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """``n`` noise vectors from the configured distribution."""
        g = gen or self.gen
        if self.config.noise == "uniform":
            return torch.rand(n, self.config.noise_dim, generator=g) * 2 - 1
        return torch.randn(n, self.config.noise_dim, generator=g)

    # -- training ----------------------------------------------------------------------------------
    def _d_step(self) -> None:
        n = self.config.batch_size
        real = self.target.sample(n, self.gen)
        with torch.no_grad():
            fake = self.G(self.noise(n))
        real_out, fake_out = self.D(real).squeeze(1), self.D(fake).squeeze(1)
        loss = self.loss.d_loss(real_out, fake_out)
        if self.loss.penalty:
            loss = loss + self.loss.penalty * gradient_penalty(self.D, real, fake, generator=self.gen)
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.d_opt.step()
        self.d_updates += 1
        self._pending["d_loss"].append(float(loss.detach()))
        self._pending["d_real"].append(float(self._shown(real_out.detach()).mean()))
        self._pending["d_fake"].append(float(self._shown(fake_out.detach()).mean()))

    def _g_step(self) -> None:
        fake_out = self.D(self.G(self.noise(self.config.batch_size))).squeeze(1)
        loss = self.loss.g_loss(fake_out)
        self.g_opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.g_opt.step()
        self.D.zero_grad(set_to_none=True)  # G's backward also filled D's gradients; D's step never sees them
        self.g_updates += 1
        self._pending["g_loss"].append(float(loss.detach()))

    def _shown(self, out: torch.Tensor) -> torch.Tensor:
        """D's output as the curves show it: a probability for the log, LS and hinge losses, the raw
        critic value for WGAN-GP."""
        show = self.loss.display
        return show(out) if show is not None else out

    def step(self, which: str = "both") -> None:
        """One training step: ``"d"`` one D update, ``"g"`` one G update, ``"both"`` ``d_steps`` D
        updates then one G update (a measure is recorded every ``metrics_every`` G updates)."""
        if which not in ("both", "d", "g"):
            raise UserInputError(f"unknown step {which!r}; choose one of: both, d, g")
        if which in ("both", "d"):
            for _ in range(self.config.d_steps if which == "both" else 1):
                self._d_step()
        if which in ("both", "g"):
            self._g_step()
            if self.g_updates % self.config.metrics_every == 0:
                self.record()
        elif which == "d" and self.d_updates % self.config.metrics_every == 0:
            self.record()

    def run(self, steps: int, *, callback: Callable[[Playground], None] | None = None) -> Playground:
        """``steps`` steps of both networks; ``callback(self)`` after each."""
        for _ in range(steps):
            self.step("both")
            if callback is not None:
                callback(self)
        return self

    def update(self, config: PlaygroundConfig) -> bool:
        """Apply ``config``: live fields change in place; anything else rebuilds the run from its
        seed. Returns True when the run was reset."""
        config = config.validated()
        changed = {f.name for f in fields(config) if getattr(config, f.name) != getattr(self.config, f.name)}
        if not changed:
            return False
        if changed <= LIVE_FIELDS:
            self.config = config
            for group in self.g_opt.param_groups:
                group["lr"] = config.g_lr
            for group in self.d_opt.param_groups:
                group["lr"] = config.d_lr
            return False
        self.__init__(config, self.points)  # type: ignore[misc]
        return True

    def reset(self) -> None:
        """Start again from the seed (same config and points)."""
        self.__init__(self.config, self.points)  # type: ignore[misc]

    # -- measures ----------------------------------------------------------------------------------
    @torch.no_grad()
    def measure(self) -> dict[str, Any]:
        """Divergence and mode coverage of G on the fixed evaluation noise against the fixed real sample."""
        fake = self.G(self.eval_z)
        cov = coverage(fake, self.target.modes, self.target.radius)
        return {"js": js_divergence(self.eval_real, fake), "coverage": cov["covered"], "modes": cov["total"],
                "quality": cov["quality"], "counts": cov["counts"]}

    def record(self) -> None:
        """Append a history row: the losses and D outputs averaged since the last row, and the measures."""
        m = self.measure()
        row = {"step": float(self.g_updates), "js": m["js"], "coverage": float(m["coverage"]),
               "quality": m["quality"]}
        for key, values in self._pending.items():
            row[key] = float(np.mean(values)) if values else (self.history[key][-1] if self.history[key] else math.nan)
            values.clear()
        for key in HISTORY_KEYS:
            self.history[key].append(row[key])
        if len(self.history["step"]) > MAX_HISTORY:  # a long session: keep every other row (and the last)
            for key, values in self.history.items():
                self.history[key] = values[:-1:2] + values[-1:]

    # -- what is drawn -----------------------------------------------------------------------------
    def snapshot(self, *, heat_size: int = 64, grid_lines: int = 11, grid_points: int = 60) -> Snapshot:
        """Real and fake samples, D's output over the plane, the generator's gradient at each fake
        sample, and the warped noise grid (noise dimension 1 or 2)."""
        n = self.display_n
        z = self.eval_z[:n]
        fake = self.G(z).detach().requires_grad_(True)
        g_loss = self.loss.g_loss(self.D(fake).squeeze(1)) * n  # per-sample gradients, not divided by n
        (grad,) = torch.autograd.grad(g_loss, fake)
        self.D.zero_grad(set_to_none=True)
        with torch.no_grad():
            ticks = torch.linspace(-EXTENT, EXTENT, heat_size)
            yy, xx = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
            raw = self.D(torch.stack([xx.flatten(), yy.flatten()], 1)).view(heat_size, heat_size)
            if self.loss.display is not None:
                heat = self.loss.display(raw)
                lo, hi = 0.0, 1.0
            else:
                lo, hi = float(raw.min()), float(raw.max())
                heat = (raw - lo) / max(hi - lo, 1e-8)
            lines = self._warped_grid(grid_lines, grid_points)
        return Snapshot(step=self.g_updates, d_updates=self.d_updates, real=self.eval_real[:n].numpy(),
                        fake=fake.detach().numpy(), arrows=(-grad).numpy(), heat=heat.numpy(),
                        heat_range=(lo, hi), grid_lines=lines, modes=self.target.modes.numpy(),
                        radius=self.target.radius, history={k: list(v) for k, v in self.history.items()},
                        loss=self.config.loss, target=self.config.target)

    def _warped_grid(self, n_lines: int, n_points: int) -> list[np.ndarray]:
        d = self.config.noise_dim
        if d > 2:
            return []
        span = 1.0 if self.config.noise == "uniform" else 2.0  # ±2σ for normal noise
        ticks = torch.linspace(-span, span, n_points)
        if d == 1:
            return [self.G(ticks.unsqueeze(1)).numpy()]
        lines = []
        for v in torch.linspace(-span, span, n_lines):
            fixed = torch.full_like(ticks, float(v))
            lines.append(self.G(torch.stack([ticks, fixed], 1)).numpy())
            lines.append(self.G(torch.stack([fixed, ticks], 1)).numpy())
        return lines

    def curves_table(self) -> list[dict[str, float]]:
        """The history as rows (for CSV/JSON)."""
        return [dict(zip(HISTORY_KEYS, values, strict=True)) for values in zip(*self.history.values(), strict=True)]


def with_changes(config: PlaygroundConfig, **changes: Any) -> PlaygroundConfig:
    """``config`` with ``changes`` applied and validated (unknown names raise UserInputError)."""
    known = {f.name for f in fields(PlaygroundConfig)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise UserInputError(f"unknown playground setting(s) {unknown}; valid: {', '.join(sorted(known))}")
    return replace(config, **changes).validated()


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (a key of :data:`PRESETS`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UserInputError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None

