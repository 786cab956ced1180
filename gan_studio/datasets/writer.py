"""The one writer of a dataset folder: accepts candidates in order, fills shards, keeps the manifest.

Whoever computes the candidates (this process, or Ray workers) hands them to :class:`DatasetWriter`
in candidate order; it alone decides what is kept (class quotas, filters), names the samples, writes
the shards (:mod:`.formats`) and records progress in ``manifest.json`` after each shard:

```
{"version": 1, "arguments": {...}, "mode": "generate", "total": N, "num_shards": S, "complete": false,
 "shards": [{"shard": 0, "files": [...], "count": 1000, "next_candidate": 1043, "label_counts": {...},
             "dropped": [[candidate, seed, reason], ...], "phashes": "…"}, ...]}
```

A resumed run reads the manifest, refuses different arguments, and continues with the candidate after
the last complete shard: the files it writes are the ones an uninterrupted run writes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserInputError
from .filters import DEFAULT_DEDUPE_BITS, HashIndex, training_hashes
from .formats import PARTIAL_SUFFIX, Record, write_shard
from .plan import Candidate, Plan, describe_differences

logger = logging.getLogger(__name__)

__all__ = ["MANIFEST_NAME", "DatasetSummary", "DatasetWriter", "ProgressFn", "read_manifest"]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
#: (images done, images in the dataset), after every chunk.
ProgressFn = Callable[[int, int], None]
#: A run gives up when this many candidates per wanted image were tried (filters keep almost nothing).
MAX_CANDIDATES_PER_IMAGE = 50


@dataclass
class DatasetSummary:
    """What a finished run wrote."""

    path: Path
    format: str
    total: int
    num_shards: int
    candidates: int                                   # candidates judged (kept + dropped by a filter)
    dropped: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # dataset_info.json


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a dataset folder (:class:`UserInputError` if there is none)."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise UserInputError(f"{str(folder)!r} has no {MANIFEST_NAME}: it is not a dataset written by gan_studio")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + PARTIAL_SUFFIX)
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _remove_partials(root: Path) -> None:
    for path in root.rglob(f"*{PARTIAL_SUFFIX}"):
        path.unlink(missing_ok=True)


class DatasetWriter:
    """Accepts candidates in order into shards under ``out`` (see the module docstring).

    ``resume=False`` needs ``out`` absent or empty; ``resume=True`` continues the run recorded in its
    manifest, if the arguments are the same.
    """

    def __init__(self, out: str | os.PathLike[str], plan: Plan, *, resume: bool = False) -> None:
        self.out = Path(out)
        self.plan = plan
        self.request = plan.request
        self.arguments = plan.arguments()
        self.bits = DEFAULT_DEDUPE_BITS if self.request.dedupe_bits is None else self.request.dedupe_bits
        self.manifest = self._open(resume)
        self.shards: list[dict[str, Any]] = self.manifest["shards"]
        self.done_count = sum(int(s["count"]) for s in self.shards)
        self.next_candidate = int(self.shards[-1]["next_candidate"]) if self.shards else 0
        self.counts: Counter[int] = Counter()
        self.dropped_total: Counter[str] = Counter()
        for shard in self.shards:
            self.counts.update({int(k): int(v) for k, v in shard.get("label_index_counts", {}).items()})
            self.dropped_total.update(reason for _j, _seed, reason in shard.get("dropped", []))
        self.buffer: list[Record] = []
        self.dropped: list[list[Any]] = []
        self.hashes = HashIndex()
        self.training = HashIndex()
        if self.request.dedupe:
            for shard in self.shards:
                text = shard.get("phashes", "")
                for i in range(0, len(text), 16):
                    self.hashes.add(int(text[i:i + 16], 16))
            if plan.training_set is not None:
                for value in training_hashes(plan.training_set):
                    self.training.add(value)

    # ---- opening -----------------------------------------------------------------------------
    def _open(self, resume: bool) -> dict[str, Any]:
        out = self.out
        if out.exists() and not out.is_dir():
            raise UserInputError(f"output {str(out)!r} exists and is not a folder")
        busy = out.is_dir() and any(out.iterdir())
        if not resume:
            if busy:
                raise UserInputError(f"output folder {str(out)!r} is not empty; pass --resume to continue the run "
                                     f"recorded in its {MANIFEST_NAME}, or choose an empty or new folder")
            out.mkdir(parents=True, exist_ok=True)
            manifest: dict[str, Any] = {"version": MANIFEST_VERSION, "arguments": self.arguments,
                                        "mode": self.plan.mode, "total": self.plan.total,
                                        "num_shards": self.plan.num_shards, "complete": False, "shards": []}
            _write_json(out / MANIFEST_NAME, manifest)
            return manifest
        if not (out / MANIFEST_NAME).is_file():
            if busy:
                raise UserInputError(f"--resume: {str(out)!r} has no {MANIFEST_NAME}, so there is no run to continue "
                                     f"(and it is not empty); choose an empty or new folder")
            return self._open(False)  # nothing written yet: start afresh
        manifest = read_manifest(out)
        old = manifest.get("arguments", {})
        if old != self.arguments:
            diffs = describe_differences(old, self.arguments)
            raise UserInputError(f"--resume: {str(out)!r} was written with different arguments: {'; '.join(diffs)}. "
                                 f"Run the same command to continue it, or write to a new folder")
        _remove_partials(out)
        logger.info("resuming %s after %d complete shards", out, len(manifest["shards"]))
        return manifest

    # ---- state -------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Images accepted so far (written or waiting in the current shard)."""
        return self.done_count + len(self.buffer)

    @property
    def complete(self) -> bool:
        return self.count >= self.plan.total

    def class_full(self, label: int | None) -> bool:
        if label is None or not self.plan.quotas:
            return False
        return self.counts[label] >= self.plan.quotas.get(label, 0)

    def wants_chunk(self, chunk: int) -> bool:
        """Whether any candidate of ``chunk`` could still be kept (not before the resume point, not of a
        class that is full); chunks it does not want need not be computed."""
        if self.complete or (chunk + 1) * self.plan.chunk_size <= self.next_candidate:
            return False
        return not self.class_full(self.plan.chunk_label(chunk))

    # ---- accepting ---------------------------------------------------------------------------
    def offer(self, candidate: Candidate) -> None:
        """Consider the next candidate: keep it or record why not; a full shard is written at once."""
        if candidate.j < self.next_candidate or self.complete:
            return  # before the resume point, or past the end
        # Candidates come in order; the ones skipped in between belong to chunks of full classes, which
        # could not have been kept (``wants_chunk``), so skipping them changes nothing.
        self.next_candidate = candidate.j + 1
        reason = self._reject(candidate)
        if reason is None and self.class_full(candidate.label):
            return  # its class is full: not a sample, not a drop
        if reason is not None:
            self.dropped.append([candidate.j, candidate.seed, reason])
            self.dropped_total[reason] += 1
            self._check_budget()
            return
        if candidate.phash is not None:
            self.hashes.add(candidate.phash)
        if candidate.label is not None:
            self.counts[candidate.label] += 1
        index = self.count
        key = f"{index:08d}"
        self.buffer.append(Record(index=index, key=key, candidate=candidate))
        if len(self.buffer) >= self.request.shard_size or self.complete:
            self.flush()

    def _reject(self, c: Candidate) -> str | None:
        if self.class_full(c.label):
            return None
        threshold = self.request.min_confidence
        if threshold is not None and (c.confidence is None or c.confidence < threshold):
            return "low_confidence"
        if self.request.dedupe and c.phash is not None:
            if self.training.near(c.phash, self.bits):
                return "near_training_image"
            if self.hashes.near(c.phash, self.bits):
                return "near_duplicate"
        return None

    def _check_budget(self) -> None:
        tried = self.next_candidate
        if tried > MAX_CANDIDATES_PER_IMAGE * self.plan.total + 1000:
            raise UserInputError(
                f"the filters kept {self.count} of {tried} candidates ({dict(self.dropped_total)}); at this rate "
                f"{self.plan.total} images would take too long. Lower --min-confidence or drop --dedupe")

    def flush(self) -> None:
        """Write the current shard and record it in the manifest (files first, then the manifest)."""
        if not self.buffer:
            return
        shard = len(self.shards)
        files = write_shard(self.out, self.request.format, shard, self.plan.num_shards, self.buffer,
                            self.plan.class_names)
        names = Counter(r.candidate.label_name for r in self.buffer if r.candidate.label_name is not None)
        indices = Counter(r.candidate.label for r in self.buffer if r.candidate.label is not None)
        entry: dict[str, Any] = {
            "shard": shard, "count": len(self.buffer), "next_candidate": self.next_candidate,
            "files": files if self.request.format != "imagefolder" else [],
            "label_counts": dict(sorted(names.items())),
            "label_index_counts": {str(k): v for k, v in sorted(indices.items())},
            "dropped": self.dropped,
        }
        if self.request.dedupe:
            entry["phashes"] = "".join(f"{r.candidate.phash or 0:016x}" for r in self.buffer)
        self.shards.append(entry)
        self.done_count += len(self.buffer)
        self.buffer, self.dropped = [], []
        self.manifest["complete"] = self.done_count >= self.plan.total
        _write_json(self.out / MANIFEST_NAME, self.manifest)

    def finish(self) -> DatasetSummary:
        """Write the last shard and the card (README.md + dataset_info.json); the summary."""
        from .card import dataset_info, write_card

        self.flush()
        if self.done_count < self.plan.total:
            raise RuntimeError(f"dataset incomplete: {self.done_count} of {self.plan.total}")  # internal wiring
        label_counts: Counter[str] = Counter()
        for shard in self.shards:
            label_counts.update(shard.get("label_counts", {}))
        summary = DatasetSummary(path=self.out, format=self.request.format, total=self.done_count,
                                 num_shards=len(self.shards),
                                 candidates=self.done_count + sum(self.dropped_total.values()),
                                 dropped=dict(sorted(self.dropped_total.items())),
                                 label_counts=dict(sorted(label_counts.items())))
        summary.info = dataset_info(self.plan, summary, self.bits)
        write_card(self.out, self.plan, summary)
        return summary


def remove_dataset(folder: str | os.PathLike[str]) -> None:
    """Delete a dataset folder written by the studio (refuses folders without a manifest)."""
    read_manifest(folder)
    shutil.rmtree(folder)
