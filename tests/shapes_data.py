"""A small "user's own images" data set drawn on the fly: coloured circles, squares and triangles on
plain backgrounds, one sub-folder per shape, written as PNG files or a zip (plus, on request, files
that are not usable images, which the trainer must skip and count)."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

SHAPES = ("circles", "squares", "triangles")


def shape_image(shape: str, rng: random.Random, side: int = 48) -> Image.Image:
    """One ``side``×``side`` RGB image of ``shape`` (random colour, size, place, background)."""
    bg = tuple(rng.randint(0, 90) for _ in range(3))
    fg = tuple(rng.randint(120, 255) for _ in range(3))
    im = Image.new("RGB", (side, side), bg)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(im)
    r = rng.uniform(0.2, 0.38) * side
    cx, cy = rng.uniform(r, side - r), rng.uniform(r, side - r)
    if shape == "circles":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)  # type: ignore[arg-type]
    elif shape == "squares":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fg)  # type: ignore[arg-type]
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)  # type: ignore[arg-type]
    return im


def shape_files(n_per_class: int, *, seed: int = 0, side: int = 48, bad: bool = True) -> dict[str, bytes]:
    """``{"circles/0003.png": png bytes, …}``; with ``bad`` also a text file, a truncated PNG and an
    empty file (three files to skip)."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for shape in SHAPES:
        for i in range(n_per_class):
            buf = io.BytesIO()
            shape_image(shape, rng, side).save(buf, format="PNG")
            files[f"{shape}/{i:04d}.png"] = buf.getvalue()
    if bad:
        first = next(iter(files.values()))
        files["circles/notes.txt"] = b"these are my shapes\n"
        files["squares/broken.png"] = first[: len(first) // 3]
        files["triangles/empty.png"] = b""
    return files


def write_zip(path: Path, files: dict[str, bytes], *, folder: str = "shapes") -> Path:
    """Write ``files`` into a zip under one wrapping ``folder`` (as a zipped folder is)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}", data)
    return path


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root
