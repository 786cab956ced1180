"""The dataset card: ``dataset_info.json`` (machine-readable) and ``README.md`` (a Hugging Face style
card with YAML front matter), both describing a finished set: synthetic, AI-generated, by which
model and revision, with which parameters, how many of each class, under which licence."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..metadata import DIGITAL_SOURCE_TYPE

if TYPE_CHECKING:
    from .plan import Plan
    from .writer import DatasetSummary

__all__ = ["INFO_NAME", "CARD_NAME", "dataset_info", "write_card"]

INFO_NAME = "dataset_info.json"
CARD_NAME = "README.md"
_DATA_FILES = {"parquet": "data/*.parquet", "webdataset": "data/*.tar", "imagefolder": "**/*.png"}


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def dataset_info(plan: Plan, summary: DatasetSummary, dedupe_bits: int) -> dict[str, Any]:
    """The content of ``dataset_info.json``."""
    request = plan.request
    filters: dict[str, Any] = {"min_confidence": request.min_confidence, "evaluator": plan.evaluator,
                               "dedupe": request.dedupe,
                               "dedupe_hash": "64-bit DCT perceptual hash" if request.dedupe else None,
                               "dedupe_threshold_bits": dedupe_bits if request.dedupe else None,
                               "dedupe_training_set": plan.training_set if request.dedupe else None,
                               "candidates": summary.candidates, "dropped": summary.dropped,
                               "dropped_seeds": "per shard in manifest.json (candidate, seed, reason)"}
    return {
        "description": f"Synthetic, AI-generated images made by gan_studio with model {plan.model_id}"
                       + (f" from the images of {Path(request.input_dir or '').name!r}" if plan.mode == "input" else ""),
        "synthetic": True,
        "ai_generated": True,
        "digital_source_type": DIGITAL_SOURCE_TYPE,
        "generator": {"model": plan.model_id, "revision": plan.revision, "task": plan.task.value,
                      "architecture": plan.architecture, "license": plan.license, "description": plan.description,
                      "training_set": plan.training_set},
        "parameters": plan.arguments(),
        "format": request.format,
        "num_images": summary.total,
        "num_shards": summary.num_shards,
        "class_names": plan.class_names,
        "label_counts": summary.label_counts,
        "filters": filters,
        "software": f"gan_studio {__version__}",
    }


def _yaml_list(key: str, items: list[str], indent: str = "") -> list[str]:
    if not items:
        return [f"{indent}{key}: []"]
    return [f"{indent}{key}:", *(f"{indent}- {json.dumps(x, ensure_ascii=False)}" for x in items)]


def card_text(plan: Plan, summary: DatasetSummary) -> str:
    """README.md: YAML front matter (licence, tags, size, data files, features) and a description."""
    request = plan.request
    fmt = request.format
    licence = plan.license if plan.license not in ("", "unknown") else "other"
    front = ["---", f"license: {json.dumps(licence)}", f"pretty_name: {json.dumps(f'{plan.model_id} synthetic data')}",
             *_yaml_list("tags", ["synthetic", "ai-generated", "gan_studio", plan.task.value]),
             *_yaml_list("task_categories", ["image-classification"] if plan.class_names else []),
             *_yaml_list("size_categories", [_size_category(summary.total)]),
             "configs:", "- config_name: default", "  data_files:", "  - split: train",
             f"    path: {json.dumps(_DATA_FILES[fmt])}"]
    if plan.class_names:
        front += ["dataset_info:", "  features:", "  - name: image", "    dtype: image", "  - name: label",
                  "    dtype:", "      class_label:", "        names:",
                  *(f"          {json.dumps(str(i))}: {json.dumps(name)}" for i, name in enumerate(plan.class_names)),
                  "  splits:", "  - name: train", f"    num_examples: {summary.total}"]
    front.append("---")
    counts = "\n".join(f"| {name} | {n} |" for name, n in summary.label_counts.items())
    how = {
        "parquet": "```python\nfrom datasets import load_dataset\nds = load_dataset(\"parquet\", "
                   "data_files=\"data/*.parquet\", split=\"train\")   # image, label, seed, provenance, …\n```",
        "imagefolder": "```python\nfrom torchvision.datasets import ImageFolder\nds = ImageFolder(\".\")   "
                       "# one sub-folder per class; each PNG carries its provenance in text chunks\n```",
        "webdataset": "Tar shards in the WebDataset layout: `<key>.png`, `<key>.json` (the record), `<key>.cls` "
                      "(the class index). Any WebDataset reader works, or Python's `tarfile`.",
    }[fmt]
    filters = []
    if request.min_confidence is not None:
        filters.append(f"kept only samples the `{plan.evaluator}` evaluator classifies as the requested class with "
                       f"probability ≥ {request.min_confidence}")
    if request.dedupe:
        filters.append("dropped near-duplicates (64-bit DCT perceptual hash, "
                       f"≤ {summary.info.get('filters', {}).get('dedupe_threshold_bits')} bits apart) of earlier "
                       "samples" + (f" and of the training set ({plan.training_set})" if plan.training_set else ""))
    dropped = ", ".join(f"{k}: {v}" for k, v in summary.dropped.items()) or "none"
    body = [
        f"# {plan.model_id} — synthetic data",
        "",
        "**Synthetic, AI-generated images.** Every image was made by a generative model; none is a photograph "
        "or a real sample. Each PNG is marked as AI-generated (IPTC digital source type *trainedAlgorithmicMedia*) "
        "and carries its full provenance.",
        "",
        f"- generator: `{plan.model_id}` (revision `{plan.revision}`, {plan.task.value}, `{plan.architecture}`)"
        + (f" — {plan.description}" if plan.description else ""),
        f"- licence of the generator's weights: `{plan.license}` — whether and how it reaches the images it makes "
        "is for you to check",
        f"- images: {summary.total} in {summary.num_shards} shard(s), format `{fmt}`",
        f"- candidates considered: {summary.candidates} (dropped: {dropped})",
        f"- filters: {'; '.join(filters) if filters else 'none'}",
        f"- made with gan_studio {__version__}; parameters in `dataset_info.json`, per-shard progress and the "
        "seeds of dropped candidates in `manifest.json`",
        "",
        "Re-running the same command gives the same files, byte for byte.",
        "",
    ]
    if plan.class_names:
        body += ["| class | images |", "|---|---|", counts, ""]
    body += ["## Loading", "", how, ""]
    return "\n".join(front) + "\n\n" + "\n".join(body)


def write_card(out: str | os.PathLike[str], plan: Plan, summary: DatasetSummary) -> None:
    """Write ``dataset_info.json`` and ``README.md`` into ``out`` (atomically, deterministically)."""
    from .formats import PARTIAL_SUFFIX

    root = Path(out)
    for name, text in ((INFO_NAME, json.dumps(summary.info, indent=2, sort_keys=True, ensure_ascii=False) + "\n"),
                       (CARD_NAME, card_text(plan, summary))):
        tmp = root / (name + PARTIAL_SUFFIX)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, root / name)
