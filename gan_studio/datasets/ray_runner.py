"""The same dataset run with the candidates computed on a Ray cluster (Ray Data), written here.

Imported only for ``--ray`` / ``write_dataset(ray_address=...)``; ``ray`` is an optional dependency
(``pip install -r requirements-ray.txt`` or ``pip install "gan-studio[ray]"``).

How: the chunks a run needs become a Ray Dataset of chunk indices (``from_items``); ``map_batches``
hands them, one chunk per call, to a pool of :class:`ChunkWorker` actors
(``compute=ray.data.ActorPoolStrategy(size=workers)``, one GPU each when the cluster has GPUs), each of
which loads the model once and computes whole chunks with :func:`~gan_studio.datasets.plan.produce_chunk`,
the function a local run calls. Results come back in order (``preserve_order``) and go through the same
:class:`~gan_studio.datasets.writer.DatasetWriter`, so the files are the ones a local run writes (on the
same kind of device: a GPU's floating-point results differ from a CPU's).

Without filters the chunks needed are known exactly: one Ray Dataset, one actor pool. With filters
they are not: the Dataset covers :data:`FILTER_HEADROOM` times the chunks that would do if nothing were
dropped (every class's chunks, as the class schedule cycles), streamed in order and abandoned as soon as
the writer is full (what the actors computed ahead is discarded); in the rare case that is not enough,
another such Dataset (a new actor pool) continues after it. (An open-ended ``ray.data.range`` would need
CPUs for its read tasks while the actors hold them all.)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import Any

from ..errors import UserInputError
from ..paths import PACKAGE_DIR
from .plan import Candidate, DatasetRequest, Plan, make_plan, produce_chunk
from .writer import DatasetWriter

logger = logging.getLogger(__name__)

__all__ = ["FILTER_HEADROOM", "ChunkWorker", "init_ray", "ray_chunks"]

#: With filters, a Ray run first sends this many times the chunks an unfiltered run would need.
FILTER_HEADROOM = 4


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # the Data library is the part we use
    except ImportError:
        raise UserInputError("--ray needs Ray Data: pip install -r requirements-ray.txt (or pip install "
                             "'gan-studio[ray]')") from None
    return ray


def init_ray(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Connect to Ray (``address``: ``None``/``"local"`` = ``RAY_ADDRESS`` or a new local instance, else a
    cluster address), unless already connected. A new local instance gets this checkout on its workers'
    ``PYTHONPATH``; on a real cluster gan_studio must be installed on every node."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    if address in (None, "local"):
        kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": str(PACKAGE_DIR.parent)}}
        if num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
    else:
        kwargs["address"] = address
    ray.init(**kwargs)
    return ray


class ChunkWorker:
    """A Ray Data actor: loads the model once, then turns chunk indices into candidates."""

    def __init__(self, request: DatasetRequest, revision: str, models_file: str | None, device: str,
                 runtime: dict[str, Any] | None = None) -> None:
        import torch

        from ..studio import Studio

        torch.set_num_threads(1)  # one CPU per actor (Ray's default reservation)
        self.studio = Studio(models_file=models_file, device=device, batching=False, **(runtime or {}))
        self.plan = make_plan(self.studio, request)
        if self.plan.revision != revision:
            raise UserInputError(f"a Ray worker loaded {request.model!r} at revision {self.plan.revision}, the driver at "
                                 f"{revision}: every node must have the same weights")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        chunks: list[int] = []
        pngs: list[bytes] = []
        meta: list[str] = []
        for chunk in batch["chunk"]:
            for c in produce_chunk(self.studio, self.plan, int(chunk)):
                chunks.append(int(chunk))
                pngs.append(c.png)
                meta.append(json.dumps(c.to_row(), sort_keys=True))
        return {"chunk": np.array(chunks, dtype=np.int64), "png": np.array(pngs, dtype=object),
                "meta": np.array(meta, dtype=object)}


def _exact_chunks(plan: Plan, writer: DatasetWriter, start: int) -> list[int]:
    """Without filters every candidate is kept: the chunks from ``start`` that complete the dataset
    (those of classes already full left out)."""
    counts = dict(writer.counts)
    done = writer.count
    last = plan.num_candidates()
    out: list[int] = []
    chunk = start
    while done < plan.total:
        if last is not None and chunk * plan.chunk_size >= last:
            break
        label = plan.chunk_label(chunk)
        first = max(chunk * plan.chunk_size, writer.next_candidate)
        size = (chunk + 1) * plan.chunk_size - first
        if size > 0 and (label is None or counts.get(label, 0) < plan.quotas.get(label, 0)):
            out.append(chunk)
            room = plan.total - done if label is None else plan.quotas[label] - counts.get(label, 0)
            kept = min(size, room)
            done += kept
            if label is not None:
                counts[label] = counts.get(label, 0) + kept
        chunk += 1
    return out


def ray_chunks(plan: Plan, writer: DatasetWriter, *, address: str | None, workers: int = 2,
               models_file: str | None = None, device: str = "auto",
               runtime: dict[str, Any] | None = None) -> Iterator[list[Candidate]]:
    """The candidates, chunk after chunk in order, computed by ``workers`` Ray actors."""
    if workers < 1:
        raise UserInputError(f"--ray-workers must be at least 1, got {workers}")
    ray = init_ray(address)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    filtered = plan.request.min_confidence is not None or plan.request.dedupe
    start = writer.next_candidate // plan.chunk_size
    last = plan.num_candidates()
    while not writer.complete:
        chunks = _exact_chunks(plan, writer, start)
        if filtered and chunks:  # room for drops: FILTER_HEADROOM times as many, and every class's chunks
            end = chunks[-1] + 1 + (FILTER_HEADROOM - 1) * len(chunks) + 4 * workers
            if last is not None:
                end = min(end, math.ceil(last / plan.chunk_size))
            chunks = list(range(chunks[0], end))
        if not chunks:
            return
        logger.info("Ray: chunks %d…%d on %d workers%s", chunks[0], chunks[-1], workers,
                    " with a GPU each" if gpus else "")
        # one chunk per block: a block in flight holds one forward pass of images, whatever their size
        ds = ray.data.from_items([{"chunk": k} for k in chunks], override_num_blocks=len(chunks))
        ds = ds.map_batches(ChunkWorker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers),
                            num_gpus=gpus, fn_constructor_kwargs={"request": plan.request, "revision": plan.revision,
                                                                  "models_file": models_file, "device": device,
                                                                  "runtime": runtime})
        yield from _in_order(ds, writer)
        start = chunks[-1] + 1


def _in_order(ds: Any, writer: DatasetWriter) -> Iterator[list[Candidate]]:
    """The dataset's candidates grouped by chunk, until the writer is full (the rest is abandoned)."""
    current: list[Candidate] = []
    current_chunk = -1
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for chunk, png, meta in zip(batch["chunk"], batch["png"], batch["meta"]):
            if int(chunk) != current_chunk and current:
                yield current
                current = []
                if writer.complete:
                    return
            current_chunk = int(chunk)
            current.append(Candidate.from_row(json.loads(meta), bytes(png)))
    if current:
        yield current
