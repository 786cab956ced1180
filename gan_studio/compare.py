"""GAN vs diffusion, side by side: the same class and seeds through both models, the measured time per
image on this machine, and both models' evaluation numbers.

>>> from gan_studio.studio import Studio                                     # doctest: +SKIP
>>> c = compare(Studio(device="cpu"), label=3, seed=0, n=8, steps=25)       # doctest: +SKIP
>>> print(format_comparison(c))                                              # doctest: +SKIP

The numbers come from :mod:`gan_studio.evaluation` (the digit classifier and its metrics: requested-
class accuracy, class histogram entropy / classes present, the pixel-space nearest-neighbour
memorisation check), computed the same way for both models by :func:`evaluate_generator`.
Timing (:func:`time_per_image`) runs the studio's own generate call (latents drawn per seed,
forward pass, conversion to PIL images): one warm-up, then the median of ``repeats`` timed runs.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .contract import GENERATION_TASKS, Task
from .errors import WrongTaskError
from .pipelines.common import ProgressFn, Result, report

if TYPE_CHECKING:  # for annotations only: importing compare stays light
    from .studio import Studio

logger = logging.getLogger(__name__)

DEFAULT_GAN = "digits-cgan"
DEFAULT_DIFFUSION = "digits-diffusion"
DIGIT_SHAPE = (1, 32, 32)  # what the digit classifier reads
MAX_COMPARE_IMAGES = 32
MAX_EVAL_SAMPLES = 5000

# Metrics shown in comparison tables, in order: (key, label).
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    ("class_accuracy", "requested-class accuracy"),
    ("confident_share", "confident share (p ≥ 0.9)"),
    ("classes_present", "classes present (of 10)"),
    ("class_entropy_nats", "class entropy (nats, max 2.303)"),
    ("within_class_diversity_ratio", "within-class diversity (vs training digits)"),
    ("nn_ratio", "NN ratio sample→train / train→train"),
    ("near_copy_share", "near-copy share"),
)


# ---- evaluation ------------------------------------------------------------------------------------
class _Recorder:
    """Calls a generator like the evaluation module does (``G(z, labels)``), with the sampling steps
    of a diffusion model, on the generator's device and dtype, and keeps every sample it returns."""

    def __init__(self, module: Any, *, steps: int | None, device: Any, dtype: Any) -> None:
        self.module = module
        self.steps = steps
        self.device = device
        self.dtype = dtype
        self.samples: list[Any] = []

    def __call__(self, z: Any, labels: Any | None = None) -> Any:
        import torch

        extra = {"steps": self.steps} if self.module.contract.steps else {}
        with torch.inference_mode():
            z = z.to(device=self.device, dtype=self.dtype)
            if labels is None:
                out = self.module(z, **extra)
            else:
                out = self.module(z, labels.to(self.device), **extra)
        out = out.float().cpu().clamp(-1, 1)
        self.samples.append(out)
        return out


def within_class_distance(images: Any, labels: Any, num_classes: int) -> float:
    """Mean pixel-space (L2, images in [-1, 1]) distance between two different images of the same
    class, averaged over the classes that have at least two images: how varied each class is.
    A generator that draws every "3" alike scores far below the training digits."""
    import torch

    per_class = []
    flat = images.flatten(1).double()
    for c in range(num_classes):
        x = flat[labels == c]
        if x.shape[0] < 2:
            continue
        d = torch.cdist(x, x)
        per_class.append(float(d.sum() / (x.shape[0] * (x.shape[0] - 1))))
    return sum(per_class) / len(per_class) if per_class else float("nan")


def _module_device_dtype(module: Any) -> tuple[Any, Any]:
    import torch

    for p in module.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def evaluate_generator(
    module: Any,
    *,
    num_classes: int = 10,
    n_samples: int = 1000,
    seed: int = 0,
    device: Any = None,
    steps: int | None = None,
    latent_dim: int | None = None,
    conditional: bool = True,
) -> dict[str, Any]:
    """Score a digits generator with :mod:`gan_studio.evaluation`, the same way for a GAN and a
    diffusion model.

    A conditional generator goes through the evaluation module's conditional protocol (``n_samples``
    latents from ``seed``, requested classes ``i % num_classes``: ``class_accuracy``,
    ``per_class_accuracy``, ``class_entropy_nats``, ``confident_share``); the same samples then give
    the class histogram (``classes_present``), the nearest-neighbour memorisation check against
    the training digits, and the within-class diversity (:func:`within_class_distance` of the samples
    per requested class, and its ratio to the training digits' own). An unconditional one goes through its unconditional protocol (histogram,
    entropy, nearest neighbours). ``steps`` is passed to generators that take it (diffusion).
    Returns the metrics with ``task``, ``n_samples``, ``seed``, ``steps`` and ``bars`` (PASS/FAIL).
    """
    import torch

    from .data import load_digits_32
    from .evaluation import check_bars, digit_classifier, evaluate_conditional, evaluate_unconditional
    from .evaluation import metrics as M
    from .evaluation.classifiers import predict

    if not 1 <= n_samples <= MAX_EVAL_SAMPLES:
        raise ValueError(f"n_samples must be between 1 and {MAX_EVAL_SAMPLES}, got {n_samples}")
    own_device, dtype = _module_device_dtype(module)
    device = own_device if device is None else device
    declared: int = getattr(module, "latent_dim", 0) or getattr(module, "nz", 0)
    nz = int(latent_dim or declared)
    if nz <= 0:
        raise WrongTaskError(f"{type(module).__name__} has no latent size; pass latent_dim")
    recorder = _Recorder(module, steps=steps, device=device, dtype=dtype)
    kwargs = {"nz": nz, "num_classes": num_classes}
    if conditional:
        result = evaluate_conditional(recorder, kwargs, {}, n_samples, seed, str(device))
        samples = torch.cat(recorder.samples)
        clf, _ = digit_classifier()
        hist = M.class_histogram(predict(clf, samples).argmax(1), 10)
        train, train_labels = load_digits_32("train")
        result.update({"class_histogram": hist, "classes_present": int(sum(1 for c in hist if c > 0))})
        result.update(M.nearest_neighbour_check(samples, train))
        requested = torch.arange(n_samples) % num_classes  # the evaluation module's requested classes
        ours = within_class_distance(samples, requested, num_classes)
        reference = within_class_distance(train, train_labels, num_classes)
        result.update({
            "within_class_distance": round(ours, 4),
            "within_class_distance_train": round(reference, 4),
            "within_class_diversity_ratio": round(ours / reference, 4) if reference > 0 else float("nan"),
        })
        task = "conditional"
    else:
        result = evaluate_unconditional(recorder, kwargs, {}, n_samples, seed, str(device))
        task = "unconditional"
    metrics: dict[str, Any] = {"task": task, "n_samples": n_samples, "seed": seed, "steps": steps, **result}
    metrics["bars"] = {r.metric: "PASS" if r.passed else "FAIL" for r in check_bars(metrics)}
    return metrics


# ---- timing ----------------------------------------------------------------------------------------
def time_per_image(run: Callable[[], Any], *, n: int, repeats: int = 3, warmup: int = 1) -> dict[str, Any]:
    """Seconds per image of ``run()`` (which makes ``n`` images): ``warmup`` untimed calls, then the
    median of ``repeats`` timed calls divided by ``n``. CUDA work is synchronised before each reading."""
    import torch

    if n < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"need n >= 1, repeats >= 1 and warmup >= 0; got n={n}, repeats={repeats}, warmup={warmup}")

    def sync() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]  # unannotated in torch
            torch.cuda.synchronize()

    for _ in range(warmup):
        run()
    sync()
    per_image = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        sync()
        per_image.append((time.perf_counter() - t0) / n)
    return {
        "seconds_per_image": statistics.median(per_image),
        "timings": [round(t, 6) for t in per_image],
        "n": n,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }


# ---- the comparison ------------------------------------------------------------------------------
@dataclass
class Side:
    """One model's half of a comparison."""

    model: str
    architecture: str
    revision: str
    results: list[Result]  # the images for the compared seeds, with provenance
    seconds_per_image: float  # median over the timed repeats
    timings: list[float]  # seconds per image of each timed repeat
    steps: int | None  # sampling steps (diffusion), None for a one-pass generator
    evaluations_per_image: int  # network evaluations per image (1 for a GAN)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "diffusion" if self.steps is not None else "GAN"

    def title(self) -> str:
        if self.steps is None:
            return f"{self.model} (GAN, one forward pass)"
        return f"{self.model} (diffusion, {self.steps} steps)"


@dataclass
class Comparison:
    """The result of :func:`compare`: the GAN side, the diffusion side, and what they share."""

    label: str | None
    seeds: list[int]
    device: str
    gan: Side
    diffusion: Side
    eval_samples: int
    eval_seed: int

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.gan, self.diffusion

    @property
    def speedup(self) -> float:
        """How many times faster the GAN makes an image than the diffusion model."""
        return self.diffusion.seconds_per_image / self.gan.seconds_per_image if self.gan.seconds_per_image else float("inf")

    def table(self) -> list[list[Any]]:
        """Rows ``[quantity, GAN value, diffusion value]`` for a table (metrics, then timing)."""
        rows: list[list[Any]] = []
        for key, name in TABLE_METRICS:
            values = [s.metrics.get(key) for s in self.sides]
            if all(v is None for v in values):
                continue
            rows.append([name, *[_fmt(v) for v in values]])
        rows.append(["network evaluations per image", *[s.evaluations_per_image for s in self.sides]])
        rows.append([f"time per image ({self.device}, ms)", *[f"{s.seconds_per_image * 1000:.2f}" for s in self.sides]])
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (no images)."""
        return {
            "label": self.label,
            "seeds": self.seeds,
            "device": self.device,
            "eval_samples": self.eval_samples,
            "eval_seed": self.eval_seed,
            "speedup_gan_over_diffusion": round(self.speedup, 2),
            **{
                key: {
                    "model": s.model, "architecture": s.architecture, "revision": s.revision, "steps": s.steps,
                    "evaluations_per_image": s.evaluations_per_image,
                    "seconds_per_image": round(s.seconds_per_image, 6), "timings": s.timings,
                    "metrics": {k: v for k, v in s.metrics.items() if k != "per_class_accuracy"},
                }
                for key, s in (("gan", self.gan), ("diffusion", self.diffusion))
            },
        }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_comparison(c: Comparison) -> str:
    """A plain-text report: what was compared, the table, and the speed ratio."""
    label = f"class {c.label}" if c.label is not None else "a class drawn per seed"
    lines = [
        f"GAN vs diffusion: {label}, seeds {c.seeds[0]}…{c.seeds[-1]} ({len(c.seeds)} images), device {c.device}",
        f"  GAN:       {c.gan.title()}",
        f"  diffusion: {c.diffusion.title()}",
        f"  metrics: gan_studio.evaluation on {c.eval_samples} samples per model (seed {c.eval_seed}); "
        f"time: median of {len(c.gan.timings)} runs after a warm-up",
        "",
    ]
    rows = [["", c.gan.model, c.diffusion.model], *[[str(x) for x in r] for r in c.table()]]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        lines.append("  " + row[0].ljust(widths[0]) + "  " + row[1].rjust(widths[1]) + "  " + row[2].rjust(widths[2]))
    lines.append("")
    lines.append(f"  the GAN makes an image {c.speedup:.0f}× faster on this machine")
    return "\n".join(lines)


def comparison_grid(c: Comparison) -> Any:
    """One PIL image: the GAN's images on the first row, the diffusion model's on the second."""
    from .image_io import make_grid

    images = [r.image for r in c.gan.results] + [r.image for r in c.diffusion.results]
    return make_grid(images, cols=len(c.seeds))


_METRICS_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}
_METRICS_LOCK = threading.Lock()


def _evaluations_per_image(module: Any, steps: int | None) -> int:
    if steps is None:
        return 1
    guided = getattr(module, "conditional", False) and getattr(module, "guidance_scale", 1.0) != 1.0
    return steps * (2 if guided else 1)


def compare(
    studio: Studio,
    *,
    gan: str = DEFAULT_GAN,
    diffusion: str = DEFAULT_DIFFUSION,
    label: int | str | None = 3,
    seed: int = 0,
    n: int = 8,
    steps: int | None = None,
    repeats: int = 3,
    eval_samples: int = 200,
    eval_seed: int = 0,
    progress: ProgressFn | None = None,
) -> Comparison:
    """Run ``gan`` and ``diffusion`` (registry ids, folders or Hub ids of studio generators) on the
    same class and seeds ``seed … seed + n - 1``, time them, and evaluate both.

    ``steps`` are the diffusion model's sampling steps (default: its own). ``eval_samples`` = 0
    skips the metrics (they need 32×32 grey digit generators: the evaluation module's classifier
    reads digits). Metrics are cached per (model, revision, steps, samples, seed) in this process.
    """
    from .models import require_task
    from .pipelines.generation import check_steps

    if not 1 <= n <= MAX_COMPARE_IMAGES:
        raise ValueError(f"number of images must be between 1 and {MAX_COMPARE_IMAGES}, got {n}")
    if not 1 <= repeats <= 20:
        raise ValueError(f"repeats must be between 1 and 20, got {repeats}")
    if not 0 <= eval_samples <= MAX_EVAL_SAMPLES:
        raise ValueError(f"eval_samples must be between 0 and {MAX_EVAL_SAMPLES}, got {eval_samples}")
    loaded = {}
    for role, model in (("gan", gan), ("diffusion", diffusion)):
        spec = studio.spec(model)
        require_task(spec, *GENERATION_TASKS)
        report(progress, 0.02, f"loading {spec.id}")
        loaded[role] = studio.load(model)
    if loaded["gan"].contract.steps:
        raise WrongTaskError(f"{gan!r} is a diffusion model; pass a GAN generator as the GAN side")
    if not loaded["diffusion"].contract.steps:
        raise WrongTaskError(
            f"{diffusion!r} ({loaded['diffusion'].architecture}) is not a diffusion model; pass one as the diffusion side"
        )
    steps = check_steps(loaded["diffusion"], steps)
    seeds = [seed + i for i in range(n)]
    sides = {}
    fractions = {"gan": (0.05, 0.3), "diffusion": (0.3, 1.0)}
    for role, model in (("gan", gan), ("diffusion", diffusion)):
        lm = loaded[role]
        start, end = fractions[role]
        role_steps = steps if role == "diffusion" else None
        report(progress, start, f"{lm.spec.id}: generating {n} images")

        def run(model: str = model, role_steps: int | None = role_steps) -> list[Result]:
            return studio.generate(model, seed=seed, n=n, label=label, steps=role_steps)

        results = run()  # the images shown; also the warm-up of the timing
        timing = time_per_image(run, n=n, repeats=repeats, warmup=0)
        report(progress, start + (end - start) * 0.3, f"{lm.spec.id}: {timing['seconds_per_image'] * 1000:.1f} ms per image")
        metrics: dict[str, Any] = {}
        if eval_samples:
            metrics = _cached_metrics(lm, role_steps, eval_samples, eval_seed, progress=progress,
                                      at=start + (end - start) * 0.35)
        sides[role] = Side(
            model=lm.spec.id, architecture=lm.architecture, revision=lm.revision, results=results,
            seconds_per_image=timing["seconds_per_image"], timings=timing["timings"], steps=role_steps,
            evaluations_per_image=_evaluations_per_image(lm.module, role_steps), metrics=metrics,
        )
        report(progress, end, f"{lm.spec.id}: done")
    label_out = sides["gan"].results[0].params.get("label") if label not in (None, "") else None
    return Comparison(label=label_out, seeds=seeds, device=str(studio.device), gan=sides["gan"],
                      diffusion=sides["diffusion"], eval_samples=eval_samples, eval_seed=eval_seed)


def _cached_metrics(lm: Any, steps: int | None, n: int, seed: int, *, progress: ProgressFn | None,
                    at: float) -> dict[str, Any]:
    spec = lm.spec
    if spec.channels != DIGIT_SHAPE[0] or spec.image_size != DIGIT_SHAPE[1]:
        raise WrongTaskError(
            f"the comparison metrics use the digit classifier (1×32×32 grey digits); {spec.id!r} makes "
            f"{spec.channels}×{spec.image_size}×{spec.image_size} images: compare with eval_samples=0"
        )
    key = (spec.id, lm.revision, steps, n, seed, str(lm.device), str(lm.dtype))
    with _METRICS_LOCK:
        if key in _METRICS_CACHE:
            return _METRICS_CACHE[key]
    report(progress, at, f"{spec.id}: evaluating {n} samples")
    from .pipelines.generation import latent_dim

    metrics = evaluate_generator(
        lm.module, num_classes=len(spec.labels) or 10, n_samples=n, seed=seed, device=lm.device, steps=steps,
        latent_dim=latent_dim(lm), conditional=spec.task == Task.CONDITIONAL,
    )
    with _METRICS_LOCK:
        _METRICS_CACHE[key] = metrics
    return metrics
