"""The three on-disk formats, written one shard at a time, deterministically and atomically, and read back.

* ``imagefolder``: ``<class>/<key>.png`` (torchvision's ``ImageFolder``; Hugging Face ``imagefolder``);
  folder runs keep the input's relative path (``a/b/photo.jpg`` → ``a/b/photo.png``). Records travel in
  the PNGs' provenance text chunks.
* ``parquet``: ``data/train-<k>-of-<n>.parquet`` with an ``image`` column in the Hugging Face
  ``Image`` layout (``struct<bytes, path>``) and the features in the schema metadata, so
  ``datasets.load_dataset("parquet", data_files=...)`` gives images and class labels.
* ``webdataset``: ``data/train-<k>.tar`` with ``<key>.png``, ``<key>.json`` (the record) and
  ``<key>.cls`` (the class index) per sample, in key order: the WebDataset convention, written with
  :mod:`tarfile` (fixed mtime, owner and mode). A WebDataset shard is nothing but a tar file whose
  members are grouped by key, so the standard library writes it exactly and deterministically; the
  ``webdataset`` package (a reader/loader with its own dependencies) is not needed to write or read
  them, and any WebDataset loader reads the result. :mod:`.reader` reads all three formats back.

Determinism: PNGs come from :func:`gan_studio.metadata.png_bytes` (fixed compression, sorted text
chunks, no timestamps); Parquet is written with fixed row groups (one per shard), fixed compression per
column, no dictionary encoding and no statistics; pyarrow writes no timestamps, but its ``created_by``
field names its version, so the bytes are the same for the same pyarrow version.

Every file is written under a ``.partial`` name and renamed into place (``os.replace``), so a shard
is either whole or absent; the writer's manifest is updated after the rename.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .plan import Candidate, canonical_json

__all__ = ["PARTIAL_SUFFIX", "UNLABELLED", "Record", "hf_features", "image_path", "shard_files", "write_shard"]

PARTIAL_SUFFIX = ".partial"
#: The class folder of images without a class (unconditional generators).
UNLABELLED = "unlabelled"
_PARQUET_COMPRESSION = {"image.bytes": "NONE", "provenance": "ZSTD"}  # PNGs are compressed already


@dataclass(frozen=True)
class Record:
    """One sample as stored: its key and index in the dataset, and the candidate it came from."""

    index: int
    key: str
    candidate: Candidate

    def fields(self) -> dict[str, Any]:
        """The JSON record of a sample (the ``.json`` of a WebDataset sample, a Parquet row minus the image)."""
        c = self.candidate
        return {"key": self.key, "index": self.index, "label": c.label, "label_name": c.label_name, "seed": c.seed,
                "source": c.source, "model": c.params.get("model"), "revision": c.params.get("revision"),
                "confidence": c.confidence, "phash": None if c.phash is None else f"{c.phash:016x}",
                "provenance": c.params}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + PARTIAL_SUFFIX)
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def shard_files(fmt: str, shard: int, num_shards: int) -> list[str]:
    """The file a Parquet or WebDataset shard is written to (relative to the dataset folder)."""
    if fmt == "parquet":
        return [f"data/train-{shard:05d}-of-{num_shards:05d}.parquet"]
    if fmt == "webdataset":
        return [f"data/train-{shard:06d}.tar"]
    return []


def image_path(record: Record) -> str:
    """Where an ``imagefolder`` sample goes: its class folder, or the input's own relative path."""
    c = record.candidate
    if c.source is not None:
        return Path(c.source).with_suffix(".png").as_posix()
    folder = c.label_name if c.label_name is not None else UNLABELLED
    return f"{_safe_folder(folder)}/{record.key}.png"


def _safe_folder(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_ ." else "_" for ch in name).strip(" .")
    return cleaned or "_"


def write_shard(out: Path, fmt: str, shard: int, num_shards: int, records: Sequence[Record],
                class_names: Sequence[str]) -> list[str]:
    """Write one shard of ``records``; returns the files it wrote (relative to ``out``)."""
    if fmt == "imagefolder":
        written = []
        for record in records:
            rel = image_path(record)
            _atomic_write(out / rel, record.candidate.png)
            written.append(rel)
        return written
    (name,) = shard_files(fmt, shard, num_shards)
    data = _parquet_bytes(records, class_names) if fmt == "parquet" else _tar_bytes(records)
    _atomic_write(out / name, data)
    return [name]


def _tar_bytes(records: Sequence[Record]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for record in records:
            members = [(f"{record.key}.png", record.candidate.png),
                       (f"{record.key}.json", (canonical_json(record.fields()) + "\n").encode("utf-8"))]
            if record.candidate.label is not None:
                members.append((f"{record.key}.cls", f"{record.candidate.label}\n".encode("ascii")))
            for member, data in members:
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def hf_features(class_names: Sequence[str]) -> dict[str, Any]:
    """The Hugging Face ``datasets`` features of the Parquet columns."""
    label: dict[str, Any] = {"_type": "ClassLabel", "names": list(class_names)} if class_names \
        else {"_type": "Value", "dtype": "int64"}
    value = {"_type": "Value"}
    return {"key": {**value, "dtype": "string"}, "image": {"_type": "Image"}, "label": label,
            "label_name": {**value, "dtype": "string"}, "seed": {**value, "dtype": "int64"},
            "source": {**value, "dtype": "string"}, "model": {**value, "dtype": "string"},
            "revision": {**value, "dtype": "string"}, "confidence": {**value, "dtype": "float64"},
            "phash": {**value, "dtype": "string"}, "provenance": {**value, "dtype": "string"}}


def _parquet_bytes(records: Sequence[Record], class_names: Sequence[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [r.fields() for r in records]
    schema = pa.schema([
        ("key", pa.string()),
        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("label", pa.int64()), ("label_name", pa.string()), ("seed", pa.int64()), ("source", pa.string()),
        ("model", pa.string()), ("revision", pa.string()), ("confidence", pa.float64()), ("phash", pa.string()),
        ("provenance", pa.string()),
    ], metadata={"huggingface": json.dumps({"info": {"features": hf_features(class_names)}}, sort_keys=True)})
    columns = {
        "key": [r["key"] for r in rows],
        "image": [{"bytes": rec.candidate.png, "path": f"{rec.key}.png"} for rec in records],
        **{k: [r[k] for r in rows] for k in ("label", "label_name", "seed", "source", "model", "revision",
                                             "confidence", "phash")},
        "provenance": [canonical_json(r["provenance"]) for r in rows],
    }
    table = pa.Table.from_pydict(columns, schema=schema)
    buf = io.BytesIO()
    # Deterministic: fixed row groups, compression and page settings; pyarrow writes no timestamps.
    pq.write_table(table, buf, row_group_size=max(1, len(rows)), compression=_PARQUET_COMPRESSION | {"key": "ZSTD"},
                   use_dictionary=False, write_statistics=False, store_schema=True)
    return buf.getvalue()
