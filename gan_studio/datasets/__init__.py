"""Synthetic datasets from any generator or image model: ImageFolder, Parquet or WebDataset shards,
deterministic, resumable, optionally filtered, locally or on Ray.

>>> from gan_studio.datasets import DatasetRequest, write_dataset, iter_records    # doctest: +SKIP
>>> summary = write_dataset(DatasetRequest("digits-cgan", per_class=100, format="parquet"), "out/digits")
>>> next(iter_records("out/digits"))["label_name"]                               # doctest: +SKIP
'0'

The package, lowest first: :mod:`.plan` (the request, the fixed candidate sequence, computing a chunk
of candidates), :mod:`.filters` (evaluator confidence, perceptual-hash near-duplicates),
:mod:`.formats` (shard writers), :mod:`.card` (README.md + dataset_info.json),
:mod:`.writer` (the one writer: quotas, filters, shards, manifest, resume), :mod:`.reader` (reading any
format back), :mod:`.ray_runner`
(the same run on a Ray cluster; imported only when asked for), :mod:`.command` (``python -m
gan_studio dataset``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plan import FORMATS, Candidate, DatasetRequest, Plan, list_input_files, make_plan, produce_chunk
from .reader import iter_records
from .writer import MANIFEST_NAME, DatasetSummary, DatasetWriter, ProgressFn, read_manifest

if TYPE_CHECKING:
    from ..studio import Studio

__all__ = [
    "FORMATS",
    "MANIFEST_NAME",
    "Candidate",
    "DatasetRequest",
    "DatasetSummary",
    "DatasetWriter",
    "Plan",
    "iter_records",
    "list_input_files",
    "make_plan",
    "produce_chunk",
    "read_manifest",
    "write_dataset",
]

logger = logging.getLogger(__name__)


def local_chunks(studio: Studio, plan: Plan, writer: DatasetWriter) -> Iterator[list[Candidate]]:
    """The candidates chunk after chunk, computed here, skipping chunks the writer cannot use."""
    total = plan.num_candidates()
    chunk = writer.next_candidate // plan.chunk_size
    while not writer.complete:
        if total is not None and chunk * plan.chunk_size >= total:
            break
        if writer.wants_chunk(chunk):
            yield produce_chunk(studio, plan, chunk)
        chunk += 1


def write_dataset(request: DatasetRequest, out: str | os.PathLike[str], *, studio: Studio | None = None,
                  resume: bool = False, progress: ProgressFn | None = None, ray_address: str | None = None,
                  ray_workers: int | None = None, device: str = "auto",
                  models_file: str | None = None, runtime: dict[str, Any] | None = None) -> DatasetSummary:
    """Make the dataset ``request`` describes in folder ``out`` and return its summary.

    ``studio``: the engine to run the model on (default: a new one on ``device`` with the extra models of
    ``models_file`` and the :class:`~gan_studio.runtime.Runtime` options ``runtime``, without cross-request
    batching; Ray workers are built the same way). ``resume=True`` continues an interrupted run in ``out`` (same arguments required);
    otherwise ``out`` must be absent or empty. ``progress(done, total)`` is called after each chunk.
    ``ray_address`` (``"local"`` for a local instance, or a cluster address such as ``"auto"`` or
    ``"ray://host:10001"``) computes the chunks on Ray workers, ``ray_workers`` of them (default 2);
    the files are the same as without Ray.
    """
    from ..studio import Studio

    if request.input_dir is not None:  # absolute, so that Ray workers (another working directory) find it
        request = replace(request, input_dir=str(Path(request.input_dir).resolve()))
    if models_file is not None:
        models_file = str(Path(models_file).resolve())
    engine = studio if studio is not None else Studio(models_file=models_file, device=device, batching=False,
                                                        **(runtime or {}))
    plan = make_plan(engine, request)
    writer = DatasetWriter(out, plan, resume=resume)
    if writer.manifest.get("complete") and writer.done_count >= plan.total:
        logger.info("%s is already complete (%d images)", out, writer.done_count)
        return writer.finish()
    start = time.perf_counter()
    first = writer.count
    if progress is not None:
        progress(writer.count, plan.total)
    if ray_address is not None:
        from .ray_runner import ray_chunks

        chunks = ray_chunks(plan, writer, address=ray_address, workers=ray_workers or 2,
                            models_file=models_file, device=device, runtime=runtime)
    else:
        chunks = local_chunks(engine, plan, writer)
    for candidates in chunks:
        for candidate in candidates:
            writer.offer(candidate)
        if progress is not None:
            progress(writer.count, plan.total)
    if not writer.complete:
        raise RuntimeError(f"ran out of candidates at {writer.count} of {plan.total}")  # internal wiring
    summary = writer.finish()
    seconds = time.perf_counter() - start
    logger.info("wrote %d images to %s in %.1f s (%.1f images/s)", summary.total - first, out, seconds,
                (summary.total - first) / max(seconds, 1e-9))
    return summary
