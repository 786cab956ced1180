"""Upscaling benchmark: ×4 time per output megapixel, studio against a plain forward, and a 24 MP result.

    python -m bench.upscale [--threads 1] [--repeats 3] [--no-24mp] [--out bench/results/upscale.json]

Cases (random weights in the published configs, and the embedded model as shipped):

* ``rrdbnet_x4plus``: RRDBNet 23 blocks (RealESRGAN_x4plus's config), 96×96 px in;
* ``srvgg_general_x4v3``: SRVGGNetCompact 32 convolutions (realesr-general-x4v3's config), 256×256 in;
* ``photo-upscaler-x4``: the embedded SRVGG (checkpoints/photo-upscaler-x4), 256×256 in.

``reference``: the architecture's module (checked equal to BasicSR's / Real-ESRGAN's in
tests/test_upscale.py) run once on the whole input tensor, eager fp32, no tiling, no conversion;
``studio``: :meth:`Studio.upscale` as shipped (PIL in, tiles of 256 px, 8-bit PIL out) plus the PNG
encoding with provenance. Both as seconds per output megapixel, medians over ``--repeats``.

The 24 MP scenario runs in a fresh process: the embedded model enlarges a 1500×1000 photo ×4 to
6000×4000 (24 MP) in 256 px tiles; it reports the wall time and the process's peak RSS before and
after the job (``ru_maxrss``), i.e. what the job added on top of Python, torch and the model.
Nothing here is asserted: it prints figures and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import ROOT
from .cases import input_photo

CASES = (
    ("rrdbnet_x4plus", "rrdbnet", {"scale": 4, "num_feat": 64, "num_block": 23, "num_grow_ch": 32}, 96),
    ("srvgg_general_x4v3", "srvgg_compact", {"num_feat": 64, "num_conv": 32, "upscale": 4}, 256),
    ("photo-upscaler-x4", None, None, 256),
)

BIG_JOB = r"""
import json, resource, sys, time
import numpy as np
import torch
torch.set_num_threads(int(sys.argv[1]))
from PIL import Image
from gan_studio.registry import Registry, spec_from_folder
from gan_studio.studio import Studio
studio = Studio(registry=Registry([spec_from_folder(sys.argv[2], model_id="up")]), device="cpu", half=False)
studio.load("up")
photo = Image.open(sys.argv[3]).convert("RGB")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
result = studio.upscale("up", photo, tile_size=256)
seconds = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"input": list(photo.size), "output": list(result.image.size), "seconds": round(seconds, 1),
                  "peak_rss_before_mb": round(before), "peak_rss_after_mb": round(after),
                  "output_mb_8bit": round(result.image.width * result.image.height * 3 / 2**20)}))
"""


def _median_time(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_cases(tmp: Path, repeats: int) -> list[dict[str, Any]]:
    from gan_studio.architectures import build_architecture
    from gan_studio.metadata import png_bytes
    from gan_studio.registry import Registry, spec_from_folder
    from gan_studio.studio import Studio

    rows = []
    for name, arch, kwargs, side in CASES:
        if arch is None:
            folder = ROOT / "checkpoints" / name
        else:
            assert kwargs is not None
            torch.manual_seed(0)
            folder = build_architecture(arch, kwargs).eval().save_pretrained(tmp / name, meta={"task": "upscale"})
        studio = Studio(registry=Registry([spec_from_folder(folder, model_id=name)]), device="cpu", half=False)
        loaded = studio.load(name)
        module = loaded.module
        scale = loaded.contract.scale
        photo = input_photo(side)
        x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None]

        def reference(module: Any = module, x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                module(x)

        def pipeline(studio: Any = studio, name: str = name, photo: Any = photo) -> None:
            result = studio.upscale(name, photo)
            png_bytes(result.image, result.params)

        out_mp = (side * scale) ** 2 / 1e6
        ref_s = _median_time(reference, repeats)
        studio_s = _median_time(pipeline, repeats)
        rows.append({"case": name, "input": f"{side}x{side}", "output_mp": round(out_mp, 3),
                     "reference_s_per_mp": round(ref_s / out_mp, 2), "studio_s_per_mp": round(studio_s / out_mp, 2),
                     "studio_over_reference": round(studio_s / ref_s, 3)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def run_24mp(threads: int) -> dict[str, Any]:
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.png"
        input_photo(1500).resize((1500, 1000), Image.Resampling.BICUBIC).save(photo)
        out = subprocess.run([sys.executable, "-c", BIG_JOB, str(threads), str(ROOT / "checkpoints" / "photo-upscaler-x4"),
                              str(photo)], capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-24mp", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "upscale.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        report: dict[str, Any] = {"threads": args.threads, "cases": run_cases(Path(tmp), args.repeats)}
    if not args.no_24mp:
        report["24mp"] = run_24mp(args.threads)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
