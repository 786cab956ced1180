"""Reading a dataset folder written by the studio back, whatever its format."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .writer import read_manifest

__all__ = ["iter_records"]


def iter_records(folder: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every sample of a dataset folder written by the studio, in dataset order, as
    ``{"key", "index", "label", "label_name", "seed", "source", "provenance", "png": bytes, …}``
    (the format is read from its ``manifest.json``)."""
    root = Path(folder)
    manifest = read_manifest(root)
    fmt = manifest["arguments"]["format"]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for shard in manifest["shards"]:
            for name in shard["files"]:
                table = pq.read_table(root / name)
                for row in table.to_pylist():
                    image = row.pop("image")
                    row["provenance"] = json.loads(row["provenance"])
                    yield {**row, "png": image["bytes"]}
    elif fmt == "webdataset":
        for shard in manifest["shards"]:
            for name in shard["files"]:
                with tarfile.open(root / name) as tar:
                    current: dict[str, Any] = {}
                    for member in tar:
                        fh = tar.extractfile(member)
                        data = fh.read() if fh is not None else b""
                        key, ext = member.name.split(".", 1)
                        if current and current["key"] != key:
                            yield current
                            current = {}
                        if ext == "json":
                            current.update(json.loads(data))
                        elif ext == "png":
                            current["png"] = data
                        current["key"] = key
                    if current:
                        yield current
    else:
        from ..metadata import read_metadata

        by_source = manifest.get("mode") == "input"
        paths = [p for p in root.rglob("*.png") if not any(part.startswith(".") for part in p.relative_to(root).parts)]
        paths.sort(key=lambda p: p.relative_to(root).as_posix() if by_source else (p.stem, p.parent.name))
        for path in paths:
            png = path.read_bytes()
            provenance = read_metadata(png)
            yield {"key": path.stem, "path": path.relative_to(root).as_posix(), "label_name": provenance.get("label"),
                   "seed": provenance.get("seed"), "source": provenance.get("input"),
                   "provenance": provenance, "png": png}
