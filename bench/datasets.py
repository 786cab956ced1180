"""Dataset throughput and memory: ``python -m gan_studio dataset`` into Parquet, locally and on Ray.

    python -m bench.datasets [--n 2000] [--no-ray] [--memory 1000 10000 100000] [--out bench/results/datasets.json]

* **images/s** for two generators: DCGAN-64 (the PyTorch tutorial's 64×64 RGB network, random weights,
  written as a studio model folder) and the embedded digits cGAN (32×32), into Parquet: locally (one
  process, ``--threads`` torch threads), and on a local Ray instance with 1 and 2 workers (Ray Data
  actors, one CPU each). Each figure is end to end (``write_dataset`` from call to return: model
  load, Ray actor start-up, writing), next to the steady rate once the first shard is written
  (start-up excluded), and the Ray start-up (``ray.init``) on its own.
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
             threads: int) -> dict[str, Any]:
    """One ``write_dataset`` into Parquet; end-to-end and steady images/s."""
    from gan_studio.datasets import DatasetRequest, write_dataset

    request = DatasetRequest(model, n=n, format="parquet", shard_size=max(1, n // 8))
    marks: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    write_dataset(request, out, progress=lambda done, total: marks.append((time.perf_counter(), done)),
                  ray_address="local" if ray_workers else None, ray_workers=ray_workers, device="cpu",
                  models_file=models_file, runtime={"threads": threads})
    seconds = time.perf_counter() - t0
    after_first = [(t, d) for t, d in marks if d > 0]
    steady = None
    if len(after_first) >= 2 and after_first[-1][1] > after_first[0][1]:
        (ta, da), (tb, db) = after_first[0], after_first[-1]
        steady = (db - da) / max(tb - ta, 1e-9)
    return {"model": model, "n": n, "workers": ray_workers or 0, "seconds": round(seconds, 2),
            "images_per_s": round(n / seconds, 1), "steady_images_per_s": None if steady is None else round(steady, 1)}


def throughput(n: int, use_ray: bool, threads: int) -> list[dict[str, Any]]:
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
                    out = tmp / f"{model}-{workers or 0}"
                    row = run_once(model, n, out, models_file, workers, threads)
                    rows.append(row)
                    where = f"Ray, {workers} worker(s)" if workers else f"local ({threads} thread(s))"
                    print(f"{model:14s} {where:22s} {row['images_per_s']:8.1f} images/s end to end, "
                          f"{row['steady_images_per_s']} steady ({n} images, {row['seconds']} s)", flush=True)
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
    parser.add_argument("--n", type=int, default=2000, help="images per throughput run (default 2000)")
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
