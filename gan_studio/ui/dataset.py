"""The Dataset tab: a synthetic dataset from a generator (model, count, classes, format, filters),
written by :func:`gan_studio.datasets.write_dataset` and handed out as one zip archive.

Endpoints: ``dataset`` (make it), ``dataset_controls`` (the class picker for the chosen model).
A public studio caps the number of images (:data:`MAX_IMAGES`).
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..contract import JOBS
from ..datasets import FORMATS, DatasetRequest
from ..errors import UserInputError
from .generate import label_choices
from .handlers import gpu, load_with_progress, progress_fn, user_errors, whole_number
from .session import ModelAccess, OutputStore, slug

logger = logging.getLogger(__name__)

__all__ = ["MAX_IMAGES", "DatasetTab", "build_dataset_tab", "zip_folder"]

#: Most images one request may ask for, by public mode.
MAX_IMAGES = {False: 5000, True: 256}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass
class DatasetTab:
    """The Dataset tab's components."""

    model: gr.Dropdown
    count: gr.Number
    per_class: gr.Checkbox
    labels: gr.Dropdown
    format: gr.Radio
    seed: gr.Number
    truncation: gr.Number
    min_confidence: gr.Slider
    dedupe: gr.Checkbox
    archive: gr.File
    info: gr.JSON


def zip_folder(folder: str | os.PathLike[str], archive: str | os.PathLike[str]) -> Path:
    """Zip ``folder`` into ``archive``: sorted entries, fixed dates, stored (PNGs and Parquet are
    compressed already), so the same dataset gives the same archive."""
    root = Path(folder)
    out = Path(archive)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return out


def build_dataset_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    write_dataset: Callable[..., Any],
    session_models: gr.State | None = None,
    max_images: int = MAX_IMAGES[False],
) -> DatasetTab:
    """Lay out the Dataset tab (inside a ``gr.Tab``) and wire its events.

    ``write_dataset`` is :func:`gan_studio.datasets.write_dataset`; ``max_images`` caps one request.
    """
    ids = access.ids(JOBS["generate"])
    default = "digits-cgan" if "digits-cgan" in ids else (ids[0] if ids else None)
    first_labels = label_choices(access.studio.registry.get(default)) if default else []
    gr.Markdown(
        "Make a labelled synthetic dataset: images from a generator with their class, seed and full provenance, "
        "as Parquet (Hugging Face `datasets`), an ImageFolder (torchvision) or WebDataset tar shards, with a "
        "dataset card. The same settings always give the same files. Larger sets and folder translation: "
        "`python -m gan_studio dataset` (resumable, and on Ray with `--ray`).",
        elem_classes=["model-info"],
    )
    with gr.Row(equal_height=False):
        model = gr.Dropdown(ids, value=default, label="Model", allow_custom_value=True, scale=2)
        count = gr.Number(value=100, label="Images", precision=0, minimum=1, maximum=max_images, scale=1,
                          info=f"at most {max_images:,} here")
        per_class = gr.Checkbox(value=False, label="… per class", scale=1,
                                info="conditional models: that many of each chosen class")
        labels = gr.Dropdown(first_labels, value=[], multiselect=True, label="Classes", scale=2,
                             info="empty: all classes in turn with '… per class', else one drawn per seed",
                             visible=bool(first_labels))
    with gr.Row(equal_height=False):
        fmt = gr.Radio(list(FORMATS), value="parquet", label="Format")
        seed = gr.Number(value=0, label="Base seed", precision=0, minimum=0)
        truncation = gr.Number(value=None, label="Truncation", info="empty: none")
        min_confidence = gr.Slider(0, 1, value=0, step=0.01, label="Minimum confidence",
                                   info="0 = off; keep samples the evaluator classifies as their class (digits models)")
        dedupe = gr.Checkbox(value=False, label="Drop near-duplicates", info="of each other and of the training set")
    run = gr.Button("Make dataset", variant="primary", elem_id="dataset-button")
    archive = gr.File(label="Dataset (zip)", elem_id="dataset-archive")
    info = gr.JSON(label="dataset_info.json")

    @user_errors
    def do_dataset(model_id: str, n: float, each: bool, chosen: list[str] | None, fmt_value: str, seed_value: float,
                   truncation_value: float | None, confidence: float, drop_duplicates: bool,
                   session: list[str] | None, request: gr.Request,
                   progress: gr.Progress = gr.Progress()) -> tuple[str, dict[str, Any]]:
        spec = access.spec(model_id, JOBS["generate"], session, tab="Dataset")
        number = whole_number(n, "the number of images", 1, max_images)
        classes = tuple(str(c) for c in (chosen or []))
        if each:
            groups = len(classes) or len(label_choices(spec))
            if groups == 0:
                raise UserInputError(f"model {spec.id!r} has no classes; untick '… per class'")
            if number * groups > max_images:
                raise UserInputError(f"{number} per class × {groups} classes = {number * groups:,} images; at most "
                                     f"{max_images:,} here (use the command line for more)")
        if fmt_value not in FORMATS:
            raise UserInputError(f"unknown format {fmt_value!r}; choose one of: {', '.join(FORMATS)}")
        dataset = DatasetRequest(
            model=spec.id, format=fmt_value, n=None if each else number, per_class=number if each else None,
            labels=classes, seed=whole_number(seed_value or 0, "seed", 0, 2**63 - 1),
            truncation=None if truncation_value in (None, "", 0) else float(truncation_value),
            min_confidence=float(confidence) if confidence else None, dedupe=bool(drop_duplicates),
            shard_size=1000,
        )
        load_with_progress(access.studio, spec, None, progress)
        report = progress_fn(progress, start=0.05, end=0.95)
        folder = store.call_dir(request)
        out = folder / "dataset"
        summary = write_dataset(dataset, out, studio=access.studio,
                                progress=lambda done, total: report(done / max(total, 1),
                                                                    f"{done}/{total} images"))
        progress(0.97, desc="packing the archive")
        path = zip_folder(out, folder / f"{slug(spec.id)}-{fmt_value}-{summary.total}.zip")
        return str(path), summary.info

    def controls(model_id: str | None, session: list[str] | None) -> dict[str, Any]:
        try:
            spec = access.spec(model_id, JOBS["generate"], session, tab="Dataset")
        except Exception:  # noqa: BLE001 - an unknown id typed in: the click reports it
            return gr.update(choices=[], value=[], visible=False)
        names = label_choices(spec)
        return gr.update(choices=names, value=[], visible=bool(names))

    if session_models is None:
        session_models = gr.State([])
    run.click(gpu(do_dataset, duration=300),
              [model, count, per_class, labels, fmt, seed, truncation, min_confidence, dedupe, session_models],
              [archive, info], api_name="dataset", concurrency_id="gpu")
    model.change(controls, [model, session_models], [labels], api_name="dataset_controls", concurrency_limit=None,
                 show_progress="hidden", api_visibility="undocumented")
    return DatasetTab(model, count, per_class, labels, fmt, seed, truncation, min_confidence, dedupe, archive, info)
