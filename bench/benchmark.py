"""GAN Studio benchmark: studio overhead and optimisations against plain PyTorch, in one run, as ratios.

    python -m bench.benchmark [--quick] [--device cpu|cuda] [--repeats N] [--no-app] [--no-variants]
                              [--compile] [--only NAME ...] [--out bench/results/latest.json]

For every built-in GAN architecture at its native size (DCGAN 64 at batch 1/16/64, conditional
DCGAN 32, CycleGAN ResNet-9 at 256 and 512, pix2pix U-Net 256, StarGAN 128, the colorization U-Net,
the HugGAN U-Net and ResNet, AnimeGANv2 512, BigGAN-deep 128, StyleGAN2 256 and 1024 and
StyleGAN3-T 256 with random weights) it measures, with medians over
repeats after a warm-up, the variants of one case timed in turns so they see the same machine state:

* ``reference``: the same network built from the published layout (tests/reference_*.py, no
  gan_studio code; for the two embedded-only architectures, the embedded module run eagerly; for
  the StyleGANs, whose tests hold NVIDIA's numbers rather than a layout, gan_studio's module),
  plain eager fp32 forward on a random input: what the reference code runs;
* ``pipeline``: the studio's pipeline on the same weights in fp32, end to end: pre-processing,
  forward, post-processing to PIL and PNG encoding with provenance (the studio's overhead);
* ``default``: the same pipeline as shipped, with the automatic runtime (gan_studio.runtime: bf16
  autocast on CPUs with bf16 instructions, channels-last where it measured faster);
* ``app``: the same call through the launched Gradio app on 127.0.0.1, with ``gradio_client`` and
  with Gradio's REST API (upload, call, event stream, output downloads), next to both clients'
  overhead on a bare echo app;
* FLOPs per call (``torch.utils.flop_counter``) and achieved GFLOP/s, against the machine's GEMM
  throughput measured in the same run (fp32 and bf16; torch.mm and a 1×1 convolution, the better);
* peak RSS per case.

Then the optimisation table (each runtime setting against fp32 on the studio's pipeline, with the
PSNR of its images against fp32's; ``--compile`` adds torch.compile), cold start (``python app.py``
to the first served page, ``--help``, the first request to a model not loaded yet), model load time
from a local safetensors file, and images/s with 8 concurrent clients against one at a time.
Timings are never asserted here or in the tests: this script prints figures and writes JSON.
Run it from the repository root; the measurements, cases, app client and scenarios are the other
modules of :mod:`bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from . import ROOT
from .app_client import HttpApp, app_call_time, client_floor, launch_app
from .cases import build_cases
from .measure import matmul_gflops, peak_rss_mb
from .scenarios import (
    batching_modes,
    cold_start,
    format_row,
    format_variants,
    load_time,
    run_case,
    run_variants,
    tiling,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 5, quick 3)")
    parser.add_argument("--no-app", action="store_true", help="skip the launched-app measurements")
    parser.add_argument("--only", nargs="*", help="only cases whose name starts with one of these (the StyleGAN "
                        "cases, seconds per image on a CPU, run in a full run or when named, even with --quick)")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the optimisation table (each runtime setting against fp32)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile to the optimisation table (slow)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"), help="JSON result file")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    torch.manual_seed(0)

    from gan_studio.studio import Studio

    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "device": args.device,
                    "cpu_count": os.cpu_count()},
        "matmul_gflops": {"fp32": matmul_gflops(torch.float32, args.device),
                          "bf16": matmul_gflops(torch.bfloat16, args.device)},
    }
    for kind, m in report["matmul_gflops"].items():
        print(f"dense throughput {kind}: torch.mm {m['mm']:.0f} GFLOP/s, 1x1 convolution {m['conv1x1']:.0f}, "
              f"3x3 convolution {m['conv3x3']:.0f} -> peak {m['peak']:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cases = build_cases(tmp, args.quick, args.only or None)
        if args.only:
            cases = [c for c in cases if any(c["name"].startswith(o) for o in args.only)]
        studio = Studio(device=args.device, precision="fp32", channels_last="off")  # the overhead, like for like
        default = Studio(device=args.device)  # as shipped: the automatic runtime choices
        client = demo = http = None
        if not args.no_app:
            client, demo = launch_app(tmp, cases, args.device)
            http = HttpApp(demo.local_url)
            report["client_floor_s"] = client_floor(repeats)
            print("client overhead on a bare echo app:",
                  ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in report["client_floor_s"].items()))
        results = []
        try:
            for case in cases:
                r = run_case(case, studio, default, repeats, client, http)
                results.append(r)
                print(format_row(r, report["matmul_gflops"]), flush=True)
            # a light generator (the server's own work per request dominates) and a heavy one (the forward does)
            light = next((c for c in cases if c["name"] == "dcgan64" and c["batch"] == 1), None)
            heavy = next((c for c in cases if c["name"] == "biggan_deep128"), None)
            if demo is not None and not args.quick:
                report["concurrency"] = {}
                for case in (light, heavy):
                    if case is None:
                        continue
                    print(f"concurrency, {case['name']} (one-image generate requests, 8 clients x 8 against 64 "
                          "in sequence):")
                    report["concurrency"][case["name"]] = batching_modes(demo, f"bench-{case['folder'].name}",
                                                                         requests=8)
        finally:
            if demo is not None:
                demo.close()
        if not args.no_app:  # the app as shipped, on the bar's case
            bar_case = next((c for c in cases if c["name"] == "cyclegan_resnet9_256"), None)
            if bar_case is not None:
                client, demo = launch_app(tmp, [bar_case], args.device, shipped=True)
                try:
                    app = app_call_time(client, HttpApp(demo.local_url), bar_case, repeats)
                finally:
                    demo.close()
                ref = next(r.reference_s for r in results if r.name == bar_case["name"])
                report["app_as_shipped"] = {bar_case["name"]: {**app, "reference_s": ref,
                                                               **{f"{k}_ratio": v / ref for k, v in app.items()}}}
                print("app as shipped:", json.dumps(report["app_as_shipped"]))
        report["cases"] = [dict(asdict(r), pipeline_ratio=r.pipeline_ratio, app_ratio=r.app_ratio,
                                app_http_ratio=r.app_http_ratio, default_ratio=r.default_ratio,
                                gflops=r.gflops()) for r in results]
        if not args.no_variants:
            print("optimisations (the studio's pipeline; speed-up and PSNR against fp32):")
            report["variants"] = {}
            for case in cases:
                key = f"{case['name']}_b{case['batch']}"
                report["variants"][key] = run_variants(case, args.device, repeats, args.compile)
                print(format_variants(key, report["variants"][key]), flush=True)
        report["load_time_s"] = {c["name"]: load_time(c["folder"], 3) for c in cases if c["batch"] == 1}
        print("model load time from a local safetensors file (s):",
              ", ".join(f"{k} {v:.3f}" for k, v in report["load_time_s"].items()))
        cyclegan = next((c for c in cases if c["name"].startswith("cyclegan_resnet9")), None)
        if cyclegan is not None and not args.quick:
            print("tiled full-resolution translation, CycleGAN ResNet-9 (studio as shipped):")
            report["tiling"] = tiling(cyclegan, args.device)
    if not args.no_app:
        report["cold_start"] = cold_start()
        print("cold start:", json.dumps(report["cold_start"]))
    report["peak_rss_mb"] = peak_rss_mb()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
