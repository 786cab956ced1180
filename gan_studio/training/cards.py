"""Export helpers: write a generator folder, evaluate it, and write its model card with the numbers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

logger = logging.getLogger(__name__)

MODEL_LICENSE = "cc-by-4.0"

DIGITS_DATA = (
    "scikit-learn's bundled `load_digits` (1,797 labelled 8×8 handwritten digits, a copy of the test "
    "set of the UCI *Optical Recognition of Handwritten Digits* data set by E. Alpaydin and C. Kaynak, "
    "licensed CC BY 4.0; shipped in scikit-learn, BSD-3-Clause). Upscaled to 32×32 (bicubic), "
    "scaled to [-1, 1]. Fixed stratified 80/20 split (`random_state=0`): 1,437 training images, "
    "360 held out for evaluation."
)


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as stored in config.json (no machine-specific paths)."""
    return {k: v for k, v in metrics.items() if k != "model"}


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """A Markdown table of the scalar metrics plus the bars."""
    from ..evaluation import check_bars

    rows = ["| metric | value |", "|---|---|"]
    for key, value in metrics.items():
        if key in ("model", "bars", "per_image"):
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, (list, dict)):
            value = f"`{json.dumps(value)}`"
        rows.append(f"| {key} | {value} |")
    bars = ["", "| bar | value | result |", "|---|---|---|"]
    for r in check_bars(metrics):
        val = "missing" if r.value is None else f"{r.value:.4g}"
        bars.append(f"| {r.metric} {r.op} {r.threshold:g} | {val} | {'PASS' if r.passed else 'FAIL'} |")
    return "\n".join(rows + bars)


def card_text(
    *,
    title: str,
    model_id: str,
    task: str,
    summary: str,
    data: str,
    data_licenses: Sequence[str],
    recipe: str,
    techniques: Sequence[str],
    architecture: str,
    kwargs: Mapping[str, Any],
    metrics: Mapping[str, Any],
    evaluation: str,
    images: Sequence[tuple[str, str]],
    extra: str = "",
    steps: int,
    seed: int,
) -> str:
    """The model card (README.md with YAML front matter)."""
    tags = ["gan", task, "gan_studio", "embedded-default"]
    front = "\n".join([
        "---",
        f"license: {MODEL_LICENSE}",
        "library_name: gan_studio",
        "tags:",
        *[f"- {t}" for t in tags],
        "datasets_licenses:",
        *[f"- {lic}" for lic in data_licenses],
        "---",
    ])
    imgs = "\n\n".join(f"![{alt}]({path})" for alt, path in images)
    tech = "\n".join(f"- {t}" for t in techniques)
    return f"""{front}

# {title}

{summary}

{imgs}

## Model

- id: `{model_id}`, task: `{task}`, architecture: `{architecture}`
- config: `{json.dumps(dict(kwargs), sort_keys=True)}`
- weights: `model.safetensors`, loaded strictly by `gan_studio.load_generator("{model_id}")`
- licence of the weights: CC BY 4.0 (attribution: the data sources below)

## Training data

{data}

## Training

Reproduce (seeded, resumable, CPU):

```
python -m gan_studio train {recipe} --out checkpoints/{model_id} --steps {steps} --seed {seed}
```

Stabilising techniques:

{tech}

The loss log is `train_log.jsonl`; periodic sample grids go to `samples/` during training (not committed).
{extra}
## Evaluation

{evaluation}

Measured with `python -m gan_studio evaluate {model_id}` (n_samples={metrics.get('n_samples')}, seed={metrics.get('seed')}):

{metrics_table(metrics)}
"""


def export_and_evaluate(
    modules: Mapping[str, tuple[nn.Module, str, Mapping[str, Any], Mapping[str, Any]]],
    out_dir: Path,
    *,
    eval_samples: int,
    make_card: Callable[[dict[str, Any]], str],
    extra_metrics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Save each ``subfolder -> (module, architecture, kwargs, meta)`` under ``out_dir`` (``""`` = the
    folder itself), evaluate ``out_dir``, then rewrite the configs with the metrics and write the card.

    ``extra_metrics`` (e.g. baselines scored by the same protocol) are added to ``metrics.json`` only."""
    from ..evaluation import evaluate
    from ..weights import save_model_folder

    def save(metrics: dict[str, Any]) -> None:
        for sub, (module, arch, kwargs, meta) in modules.items():
            save_model_folder(module.cpu().eval(), out_dir / sub if sub else out_dir, architecture=arch,
                              kwargs=dict(kwargs), meta={**meta, "metrics": metrics})

    save({})
    metrics = evaluate(out_dir, n_samples=eval_samples, seed=0)
    metrics["model"] = out_dir.name
    save(clean_metrics(metrics))
    card = make_card(metrics)
    log = out_dir / "train_log.jsonl"
    if log.is_file():
        lines = [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if lines:
            last = json.loads(lines[-1])
            card = card.replace(
                "The loss log is `train_log.jsonl`",
                f"Training took {last['step']} steps and {last['elapsed_s'] / 60:.0f} min wall-clock on 1 CPU thread "
                f"(2 cores shared with other jobs). The loss log is `train_log.jsonl`",
            )
    (out_dir / "README.md").write_text(card, encoding="utf-8")
    stored = {**clean_metrics(metrics), **(extra_metrics or {})}
    (out_dir / "metrics.json").write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
    logger.info("%s: %s", out_dir, {k: v for k, v in metrics.items() if k == "bars"})
    return metrics
