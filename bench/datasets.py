"""Dataset throughput and memory: ``python -m gan_studio dataset`` into Parquet, locally and on Ray.

    python -m bench.datasets [--n 1000] [--no-ray] [--memory 1000 10000 100000] [--out bench/results/datasets.json]

* **images/s** for two generators: DCGAN-64 (the PyTorch tutorial's 64×64 RGB network, random weights,
  written as a studio model folder) and the embedded digits cGAN (32×32), into Parquet: locally (one
  process, ``--threads`` torch threads), and on a local Ray instance with 1 and 2 workers (Ray Data
  actors, one CPU each). End to end (``write_dataset`` from call to return: model load, Ray actor
  start-up, writing) at N and 3N images, and the marginal rate between the two (the steady throughput,
  fixed costs cancelled); the Ray start-up (``ray.init``) on its own.
* **the writer's ceiling**: the driver alone taking finished candidates (PNGs made beforehand) into
  Parquet shards: the most images/s any number of Ray workers can deliver through one driver.
* **peak memory** (peak resident set, ``VmHWM``, of a fresh process) of a local digits-cGAN Parquet run
  for each ``--memory`` N: flat in N means the writer streams (a shard at a time), whatever N is.

Timings are printed and written as JSON, never asserted (see bench/benchmark.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import ROOT

DCGAN64 = {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}


def dcgan64_models_file(root: Path) -> str:
    """A models TOML with ``bench-dcgan64``: the DCGAN tutorial network at 64×64, seeded random weights."""
    import torch

    from gan_studio.architectures import build_architecture
    from gan_studio.weights import save_model_folder

    torch.manual_seed(0)
    module = build_architecture("dcgan", DCGAN64)
    save_model_folder(module, root / "bench-dcgan64", architecture="dcgan", kwargs=DCGAN64,
                      meta={"task": "unconditional", "image_size": 64, "channels": 3, "license": "mit",
                            "description": "DCGAN 64x64, random weights (benchmark)"})
    toml = root / "models.toml"
    toml.write_text('[[model]]\nid = "bench-dcgan64"\npath = "bench-dcgan64"\n', encoding="utf-8")
    return str(toml)


def run_once(model: str, n: int, out: Path, models_file: str | None, ray_workers: int | None,
             threads: int) -> float:
    """Seconds of one ``write_dataset`` of ``n`` images into Parquet, from call to return."""
    from gan_studio.datasets import DatasetRequest, write_dataset

    request = DatasetRequest(model, n=n, format="parquet", shard_size=500)
    t0 = time.perf_counter()
    write_dataset(request, out, ray_address="local" if ray_workers else None, ray_workers=ray_workers,
                  device="cpu", models_file=models_file, runtime={"threads": threads})
    return time.perf_counter() - t0


def throughput(n: int, use_ray: bool, threads: int) -> list[dict[str, Any]]:
    """End-to-end images/s at ``n`` and ``3n`` images, and the marginal rate between them
    ((3n - n) / (t(3n) - t(n))): the steady throughput, fixed costs (model load, actor start-up) cancelled."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        models_file = dcgan64_models_file(tmp)
        ray = None
        if use_ray:
            from gan_studio.datasets.ray_runner import init_ray

            t0 = time.perf_counter()
            ray = init_ray(num_cpus=2)
            rows.append({"ray_init_s": round(time.perf_counter() - t0, 2)})
            print(f"ray.init (local, 2 CPUs): {rows[-1]['ray_init_s']} s", flush=True)
        try:
            for model in ("bench-dcgan64", "digits-cgan"):
                rows.append(writer_ceiling(model, n, models_file, tmp / f"{model}-writer"))
                for workers in (None, 1, 2) if use_ray else (None,):
                    small = run_once(model, n, tmp / f"{model}-{workers}-s", models_file, workers, threads)
                    large = run_once(model, 3 * n, tmp / f"{model}-{workers}-l", models_file, workers, threads)
                    row = {"model": model, "workers": workers or 0, "n": [n, 3 * n],
                           "seconds": [round(small, 2), round(large, 2)],
                           "images_per_s_end_to_end": [round(n / small, 1), round(3 * n / large, 1)],
                           "images_per_s_marginal": round(2 * n / max(large - small, 1e-9), 1)}
                    rows.append(row)
                    where = f"Ray, {workers} worker(s)" if workers else f"local ({threads} thread(s))"
                    print(f"{model:14s} {where:22s} {row['images_per_s_marginal']:8.1f} images/s marginal; end to "
                          f"end {row['images_per_s_end_to_end']} at N={row['n']} ({row['seconds']} s)", flush=True)
        finally:
            if ray is not None:
                ray.shutdown()
    return rows


def writer_ceiling(model: str, n: int, models_file: str | None, out: Path) -> dict[str, Any]:
    """How fast the one writer takes finished candidates (PNG bytes made beforehand) into Parquet: the
    ceiling of a Ray run, where the driver writes everything the workers compute."""
    from gan_studio.datasets import DatasetRequest, DatasetWriter, make_plan, produce_chunk
    from gan_studio.studio import Studio

    studio = Studio(models_file=models_file, device="cpu", batching=False)
    request = DatasetRequest(model, n=n, format="parquet", shard_size=max(1, n // 8))
    plan = make_plan(studio, request)
    chunks = [produce_chunk(studio, plan, k) for k in range((n + plan.chunk_size - 1) // plan.chunk_size)]
    writer = DatasetWriter(out, plan)
    t0 = time.perf_counter()
    for chunk in chunks:
        for candidate in chunk:
            writer.offer(candidate)
    writer.finish()
    seconds = time.perf_counter() - t0
    row = {"model": model, "n": n, "writer_images_per_s": round(n / seconds, 1)}
    print(f"{model:14s} writer alone (Parquet)  {row['writer_images_per_s']:8.1f} images/s", flush=True)
    return row


MEMORY_CHILD = """
import sys, time, torch
torch.set_num_threads(1)
from gan_studio.datasets import DatasetRequest, write_dataset
from bench.measure import peak_rss_mb
n, out = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
write_dataset(DatasetRequest("digits-cgan", n=n, format="parquet"), out, device="cpu", runtime={"threads": 1})
print(peak_rss_mb(), time.perf_counter() - t0)
"""


def memory(ns: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in ns:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(n), str(Path(tmp) / "ds")], cwd=ROOT,
                                 capture_output=True, text=True, check=True)
            peak, seconds = (float(x) for x in out.stdout.split()[-2:])
            size = sum(p.stat().st_size for p in Path(tmp, "ds").rglob("*") if p.is_file())
        rows.append({"n": n, "peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1),
                     "images_per_s": round(n / seconds, 1), "dataset_mb": round(size / 2**20, 1)})
        print(f"digits-cgan N={n:>7}: peak RSS {peak:7.1f} MB, {seconds:6.1f} s, dataset {size / 2**20:.1f} MB",
              flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="images of the smaller throughput run; the larger "
                        "makes 3N (default 1000)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the local run (default 1)")
    parser.add_argument("--no-ray", action="store_true", help="local runs only")
    parser.add_argument("--no-throughput", action="store_true", help="skip the images/s runs")
    parser.add_argument("--memory", type=int, nargs="*", default=[], metavar="N",
                        help="peak RSS of a local digits-cGAN Parquet run of N images, e.g. 1000 10000 100000")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "datasets.json"), help="JSON result file")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                                          "torch": torch.__version__, "cpu_count": os.cpu_count()}}
    if not args.no_throughput:
        report["throughput"] = throughput(args.n, not args.no_ray, args.threads)
    if args.memory:
        report["memory"] = memory(args.memory)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
