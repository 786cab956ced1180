"""Measure the studio's watermark and Content Credentials: ``python -m bench.credentials``.

Regenerates the table in docs/responsible-use.md (written to bench/results/credentials.md and
.json): watermark recovery after common edits on studio outputs of several embedded models, false
positives on real photos (scikit-image's and scikit-learn's bundled photos and crops of them), the
PSNR of watermarked vs clean outputs, and the time the watermark and the C2PA signature add per
image. Single-threaded torch, CPU; takes a few minutes.

``--quick`` runs a small subset (a smoke test of the script, not a measurement).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import ROOT

logger = logging.getLogger(__name__)
RESULTS = ROOT / "bench" / "results"
THRESHOLDS = (36, 38, 40, 42, 44)


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _png_jpeg_png(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    _jpeg(img, 85).save(buf, format="PNG")
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _crop10(img: Image.Image) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * 0.05), round(h * 0.05)  # 10 % of each side cut away, 5 % at each edge
    return img.crop((dx, dy, w - dx, h - dy))


ATTACKS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda im: im,
    "JPEG q90": lambda im: _jpeg(im, 90),
    "JPEG q75": lambda im: _jpeg(im, 75),
    "JPEG q50": lambda im: _jpeg(im, 50),
    "resize 50%": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.BICUBIC),
    "crop 10%": _crop10,
    "rotate 2°": lambda im: im.rotate(2, resample=Image.Resampling.BICUBIC),
    "PNG→JPEG→PNG": _png_jpeg_png,
}


def real_photos(limit: int | None = None) -> list[tuple[str, Image.Image]]:
    """Bundled real photos (scikit-image, scikit-learn, the repo's examples) and crops of them."""
    from skimage import data

    photos: list[tuple[str, Image.Image]] = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "hubble_deep_field",
                 "colorwheel", "camera", "moon", "brick", "grass", "gravel", "cell", "coins"):
        photos.append((name, Image.fromarray(getattr(data, name)()).convert("RGB")))
    try:
        from sklearn.datasets import load_sample_images

        for i, arr in enumerate(load_sample_images().images):
            photos.append((f"sklearn-{i}", Image.fromarray(arr).convert("RGB")))
    except ImportError:
        logger.warning("scikit-learn missing: its two sample photos are left out")
    rng = np.random.default_rng(0)
    crops: list[tuple[str, Image.Image]] = []
    for name, im in photos:
        for k in range(3):
            side = int(rng.integers(256, min(im.size) + 1)) if min(im.size) > 256 else min(im.size)
            x = int(rng.integers(0, im.width - side + 1))
            y = int(rng.integers(0, im.height - side + 1))
            crops.append((f"{name}-crop{k}", im.crop((x, y, x + side, y + side))))
    out = photos + crops
    return out[:limit] if limit else out


def studio_outputs(limit: int | None = None) -> list[tuple[str, Image.Image]]:
    """Clean (unmarked) outputs of several embedded models at sizes the watermark can carry."""
    import torch

    from gan_studio.image_io.grids import make_grid
    from gan_studio.studio import Studio

    torch.set_num_threads(1)
    studio = Studio(device="cpu", precision="fp32", batching=False)
    outs: list[tuple[str, Image.Image]] = []
    n_grid = 3 if limit else 10
    for model in ("digits-dcgan", "digits-cgan"):
        for seed in range(n_grid):
            results = studio.generate(model, seed=seed * 64, n=64)
            outs.append((f"{model}-grid{seed}", make_grid([r.image for r in results], cols=8)))
    photos = [im for name, im in real_photos() if "crop" not in name and name not in ("camera", "moon", "cell", "coins")]
    n_photo = 2 if limit else len(photos)
    for i, im in enumerate(photos[:n_photo]):
        src = im.resize((512, 512 * im.height // im.width), Image.Resampling.BICUBIC)
        outs.append((f"photo2sketch-AtoB-{i}", studio.translate("photo2sketch", src, direction="AtoB",
                                                                 full_resolution=True).image))
        if i % 2 == 0:
            outs.append((f"photo2sketch-BtoA-{i}", studio.translate("photo2sketch", src, direction="BtoA",
                                                                     full_resolution=True).image))
        outs.append((f"photo-colorizer-{i}", studio.colorize("photo-colorizer", src.convert("L")).image))
    return outs[:limit] if limit else outs


def _psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a.convert("RGB"), np.float64), np.asarray(b.convert("RGB"), np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _ms(fn: Callable[[], Any], repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)  # median: the machine may be shared


def measure(quick: bool = False) -> dict[str, Any]:
    """Run every measurement and return the numbers."""
    from gan_studio.credentials import output_bytes
    from gan_studio.credentials.verify import verify_bytes
    from gan_studio.credentials.watermark import DETECT_MIN_MATCHES, MIN_PIXELS, detect_watermark, embed_watermark
    from gan_studio.metadata import png_bytes

    outputs = studio_outputs(limit=6 if quick else None)
    photos = real_photos(limit=6 if quick else None)
    matches: dict[str, list[int]] = {name: [] for name in ATTACKS}
    psnrs: list[float] = []
    models: set[str] = set()
    output_models: list[str] = []
    for name, clean in outputs:
        models.add(name.rsplit("-", 1)[0].removesuffix("-AtoB").removesuffix("-BtoA"))
        marked, record = embed_watermark(clean)
        if marked is clean:
            logger.warning("%s: not marked (%s)", name, record)
            continue
        psnrs.append(_psnr(clean, marked))
        output_models.append(name.rsplit("-", 1)[0])
        for attack, fn in ATTACKS.items():
            found = detect_watermark(fn(marked))
            matches[attack].append(found.matches if found.checked else -1)
    real: dict[str, list[int]] = {"as is": [], "JPEG q75": []}
    for _, im in photos:
        for attack in real:
            found = detect_watermark(im if attack == "as is" else _jpeg(im, 75))
            real[attack].append(found.matches if found.checked else -1)
    timing: dict[str, dict[str, float]] = {}
    for label, (_, img) in (("274 px digit grid", outputs[0]), ("512 px translation", outputs[-1])):
        data = output_bytes(img, {"model": "bench"})
        timing[f"{label} ({img.width}x{img.height})"] = {
            "plain PNG (metadata.png_bytes)": _ms(lambda img=img: png_bytes(img, {"model": "bench"})),
            "watermark embed": _ms(lambda img=img: embed_watermark(img)),
            "watermark detect": _ms(lambda img=img: detect_watermark(img)),
            "full output (watermark + PNG + C2PA sign)": _ms(lambda img=img: output_bytes(img, {"model": "bench"})),
            "verify (manifest + watermark + provenance)": _ms(lambda data=data: verify_bytes(data)),
        }
    return {"n_outputs": len(psnrs), "models": sorted(models), "n_photos": len(photos), "threshold": DETECT_MIN_MATCHES,
            "min_pixels": MIN_PIXELS, "matches": matches, "output_models": output_models, "real": real, "psnr": psnrs, "timing_ms": timing}


def _rate(values: list[int], threshold: int) -> str:
    hits = sum(v >= threshold for v in values)
    return f"{hits}/{len(values)} ({100 * hits / max(len(values), 1):.0f} %)"


def to_markdown(r: dict[str, Any]) -> str:
    """The tables of docs/responsible-use.md."""
    t = r["threshold"]
    lines = [f"Studio outputs: {r['n_outputs']} (models: {', '.join(r['models'])}); real photos: {r['n_photos']}; "
             f"detection = at least {t} of 48 payload bits match.", "",
             "| edit | detected (outputs) | median bits matched | not checkable (too small) |", "|---|---|---|---|"]
    for attack, values in r["matches"].items():
        checked = [v for v in values if v >= 0]
        lines.append(f"| {attack} | {_rate(values, t)} | {statistics.median(checked) if checked else '-'} | "
                     f"{sum(v < 0 for v in values)} |")
    lines += ["", "Detected, by model (outputs):", "",
              "| model (n) | " + " | ".join(r["matches"]) + " |", "|---" * (len(r["matches"]) + 1) + "|"]
    names = r["output_models"]
    for model in sorted(set(names)):
        idx = [i for i, n in enumerate(names) if n == model]
        cells = [_rate([v[i] for i in idx], t).split(" ")[0] for v in r["matches"].values()]
        lines.append(f"| {model} ({len(idx)}) | " + " | ".join(cells) + " |")
    lines += ["", "| real photos | false positives | highest bits matched |", "|---|---|---|"]
    for attack, values in r["real"].items():
        lines.append(f"| {attack} | {_rate(values, t)} | {max(values)} |")
    lines += ["", "Detection rate by threshold (bits matched of 48):", "",
              "| threshold | " + " | ".join(r["matches"]) + " | false positives (real photos, as is / JPEG q75) |",
              "|---" * (len(r["matches"]) + 2) + "|"]
    for th in THRESHOLDS:
        cells = [_rate(v, th).split(" ")[1].strip("()") for v in r["matches"].values()]
        fp = " / ".join(_rate(v, th).split(" ")[0] for v in r["real"].values())
        lines.append(f"| {th} | " + " | ".join(cells) + f" | {fp} |")
    p = r["psnr"]
    lines += ["", f"PSNR watermarked vs clean: mean {statistics.mean(p):.1f} dB, min {min(p):.1f} dB, "
                  f"max {max(p):.1f} dB over {len(p)} outputs.", "",
              "| time per image (ms, median of 7, one CPU thread) | " + " | ".join(r["timing_ms"]) + " |",
              "|---" * (len(r["timing_ms"]) + 1) + "|"]
    keys = next(iter(r["timing_ms"].values())).keys()
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(f"{v[key]:.0f}" for v in r["timing_ms"].values()) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.credentials", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset (checks the script, measures nothing)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for credentials.md/.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = measure(quick=args.quick)
    text = to_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "credentials-quick" if args.quick else "credentials"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
