"""The benchmark's scenarios: per case, the studio's overhead against the reference (and the app's
round trip); the optimisation table (each runtime setting against fp32); micro-batching under
concurrent clients; tiled full-resolution translation; model load time; cold start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from . import ROOT
from .app_client import HttpApp, app_call_time, concurrency, free_port
from .cases import input_photo, pipeline_call
from .measure import (
    flops_of,
    median,
    peak_rss_mb,
    psnr,
    reset_peak_rss,
    status_mb,
    timed,
    timed_interleaved,
)


# ---- overhead: reference, studio pipeline, studio as shipped, the app ---------------------------------
@dataclass
class CaseResult:
    name: str
    batch: int
    size: int
    reference_s: float
    pipeline_s: float | None = None
    app_s: float | None = None
    flops: int = 0
    peak_rss_mb: float | None = None
    app_http_s: float | None = None  # the app through Gradio's REST API (what a browser costs)
    default_s: float | None = None  # the pipeline with the studio's automatic runtime (bf16 etc.)
    default_precision: str | None = None
    notes: list[str] = field(default_factory=list)

    def over_reference(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.reference_s

    pipeline_ratio = property(lambda self: self.over_reference(self.pipeline_s))
    app_ratio = property(lambda self: self.over_reference(self.app_s))
    app_http_ratio = property(lambda self: self.over_reference(self.app_http_s))
    default_ratio = property(lambda self: self.over_reference(self.default_s))

    def gflops(self) -> float:
        return self.flops / self.reference_s / 1e9


def run_case(case: dict[str, Any], studio: Any, default: Any, repeats: int, client: Any | None,
             http: HttpApp | None = None) -> CaseResult:
    """Reference, studio pipeline (fp32, like for like) and studio as shipped (automatic runtime),
    timed in turns; then the app round trip."""
    module = case["module"]
    inputs = case["make_input"]()
    args = inputs if isinstance(inputs, tuple) else (inputs,)

    def reference() -> Any:
        with torch.no_grad():
            return module(*args)

    result = CaseResult(case["name"], case["batch"], case["size"], reference_s=0.0)
    result.notes.append(f"reference: {case['reference']}")
    result.flops = flops_of(reference)
    pipeline = pipeline_call(case, studio)
    shipped = pipeline_call(case, default)
    reset_peak_rss()
    times = timed_interleaved({"reference": reference, "pipeline": pipeline, "default": shipped}, repeats=repeats)
    result.peak_rss_mb = peak_rss_mb()
    result.reference_s, result.pipeline_s, result.default_s = times["reference"], times["pipeline"], times["default"]
    result.default_precision = default.load(str(case["folder"])).precision
    if client is not None:
        app = app_call_time(client, http, case, repeats)
        result.app_s, result.app_http_s = app.get("app"), app.get("app_http")
    return result


def format_row(r: CaseResult, peaks: dict[str, dict[str, float]]) -> str:
    app = (f"app {r.app_s * 1000:6.0f} ms ({r.app_ratio:.2f}x) http {r.app_http_s * 1000:6.0f} ms "
           f"({r.app_http_ratio:.2f}x)" if r.app_s and r.app_http_s else f"app {'n/a':>35s}")
    shipped = peaks.get(r.default_precision or "fp32", peaks["fp32"])["peak"]
    return (f"{r.name:26s} b={r.batch:<3d} ref {r.reference_s * 1000:7.1f} ms  "
            f"pipeline {r.pipeline_s * 1000:7.1f} ms ({r.pipeline_ratio:.2f}x)  {app}  "
            f"default[{r.default_precision}] {r.default_s * 1000:7.1f} ms ({r.default_ratio:.2f}x)  "
            f"{r.flops / 1e9:7.2f} GFLOP: ref {r.gflops():4.0f} GFLOP/s = {100 * r.gflops() / peaks['fp32']['peak']:3.0f}%"
            f" of fp32 peak, default {r.flops / r.default_s / 1e9:4.0f} GFLOP/s = "
            f"{100 * r.flops / r.default_s / 1e9 / shipped:3.0f}% of {r.default_precision} peak  "
            f"peak RSS {r.peak_rss_mb or float('nan'):.0f} MB")


# ---- optimisations: each runtime setting against fp32, on the studio's own pipeline ------------------
VARIANTS: dict[str, dict[str, Any]] = {
    "fp32": {"precision": "fp32", "channels_last": "off"},  # before: plain fp32, contiguous
    "fp32+cl": {"precision": "fp32", "channels_last": "on"},
    "bf16": {"precision": "bf16", "channels_last": "off"},
    "bf16+cl": {"precision": "bf16", "channels_last": "on"},
    "auto": {},  # after: what the studio does by default
    "auto, 1 thread": {"threads": 1},
}


def run_variants(case: dict[str, Any], device: str, repeats: int, compile_too: bool) -> dict[str, Any]:
    """Seconds (timed in turns) and PSNR against the fp32 output for each runtime variant of the case's
    pipeline (those the case names in ``variants``, else all; fp32 first, the baseline); the first call
    of each (load, and with compile the compilation) is reported apart."""
    from gan_studio.studio import Studio

    variants = {k: v for k, v in VARIANTS.items() if k in case.get("variants", VARIANTS)}  # a heavy case: fewer
    if compile_too:
        variants["auto+compile"] = {"compile": True}
    threads = torch.get_num_threads()
    calls: dict[str, Callable[[], Any]] = {}
    out: dict[str, Any] = {}
    baseline: list[Image.Image] | None = None
    for name, settings in variants.items():
        studio = Studio(device=device, batching=False, **settings)
        call = pipeline_call(case, studio)
        t0 = time.perf_counter()
        images = call()  # loads (and with compile, compiles) the model
        first_s = time.perf_counter() - t0
        loaded = studio.load(str(case["folder"]))
        torch.set_num_threads(threads)
        if baseline is None:
            baseline = images
        wanted = settings.get("threads")

        def run(call: Callable[[], Any] = call, wanted: int | None = wanted) -> Any:
            if wanted:
                torch.set_num_threads(wanted)
            try:
                return call()
            finally:
                torch.set_num_threads(threads)

        calls[name] = run
        out[name] = {"first_call_s": first_s, "psnr_vs_fp32_db": min(psnr(a, b) for a, b in zip(images, baseline)),
                     "precision": loaded.precision, "channels_last": loaded.channels_last, "settings": settings}
    for name, seconds in timed_interleaved(calls, repeats=repeats, warmup=0).items():
        out[name]["seconds"] = seconds
    base = out["fp32"]["seconds"]
    for v in out.values():
        v["speedup"] = base / v["seconds"]
    return out


def format_variants(name: str, variants: dict[str, Any]) -> str:
    cells = []
    for v_name, v in variants.items():
        q = "exact" if v["psnr_vs_fp32_db"] == float("inf") else f"{v['psnr_vs_fp32_db']:.1f} dB"
        cells.append(f"{v_name} {v['seconds'] * 1000:.1f} ms {v['speedup']:.2f}x ({q})")
    return f"{name:26s} " + " | ".join(cells)


# ---- batching, tiling, load time, start-up ----------------------------------------------------------
def batching_modes(demo: Any, model_id: str, *, requests: int = 4) -> dict[str, Any]:
    """Concurrency with micro-batching off, with the previous design (every leader waited 4 ms for
    company), with no wait (requests queued during a pass form the next one) and as now (no wait for
    a lone user, 4 ms once the previous pass was shared)."""
    studio = demo.gan_studio
    out: dict[str, Any] = {}
    for mode, batching, window, load_window in (("off", False, 0.0, 0.0),
                                                ("4 ms window always (before)", True, 0.004, 0.0),
                                                ("no wait", True, 0.0, 0.0),
                                                ("4 ms window under load (now)", True, 0.0, 0.004)):
        studio.batching = batching
        loaded = studio.load(model_id)
        if not batching:
            loaded.batcher = None
        else:
            loaded.batcher.window_s, loaded.batcher.load_window_s = window, load_window
            passes_before, calls_before = loaded.batcher.calls, loaded.batcher.requests
        out[mode] = concurrency(demo.local_url, model_id, clients=8, requests=requests)
        if batching:
            out[mode]["forward_passes"] = loaded.batcher.calls - passes_before
            out[mode]["model_calls"] = loaded.batcher.requests - calls_before
        print(f"  batching {mode}: {json.dumps(out[mode])}", flush=True)
    studio.batching = True
    return out


def tiling(case: dict[str, Any], device: str) -> list[dict[str, Any]]:
    """Full-resolution (tiled, 512 px tiles, 64 px overlap) translation with the studio as shipped at
    growing photo sizes: seconds per megapixel should stay flat and peak memory bounded; one
    untiled pass at the middle size for comparison."""
    from gan_studio.memory import release_memory
    from gan_studio.studio import Studio

    studio = Studio(device=device)
    model_id = str(case["folder"])
    studio.translate(model_id, input_photo(256), working_size=256)  # loaded before measuring memory
    rows = []
    for side, tiled in ((1024, False), (1024, True), (2048, True), (3072, True)):
        image = input_photo(512).resize((side, side), Image.Resampling.BICUBIC)
        release_memory()  # what earlier sizes left in malloc's free lists is not counted as this one's
        reset_peak_rss()
        before = status_mb("VmRSS")
        t0 = time.perf_counter()
        if tiled:
            studio.translate(model_id, image, full_resolution=True)
        else:
            studio.translate(model_id, image, working_size=side)
        seconds = time.perf_counter() - t0
        rows.append({"side": side, "tiled": tiled, "seconds": seconds, "s_per_megapixel": seconds / (side * side / 1e6),
                     "peak_rss_increase_mb": peak_rss_mb() - before})
        print(f"  {side}x{side} {'tiled  ' if tiled else 'one pass'}: {seconds:6.1f} s, "
              f"{rows[-1]['s_per_megapixel']:.2f} s/MP, peak RSS +{rows[-1]['peak_rss_increase_mb']:.0f} MB", flush=True)
    return rows


def load_time(folder: Path, repeats: int) -> float:
    from gan_studio.models import build_generator
    from gan_studio.registry import spec_from_folder

    spec = spec_from_folder(folder)
    return median(timed(lambda: build_generator(spec), repeats=repeats, warmup=1))


def cold_start(timeout: float = 60.0) -> dict[str, float]:
    """Seconds from `python app.py` to the first served page, for `--help`, and for the first
    request to an embedded model not loaded yet (digits-dcgan) against a request once it is loaded."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, env=env, capture_output=True, check=True)
    help_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gan_studio", "--help"], cwd=ROOT, env=env, capture_output=True, check=True)
    cli_help_s = time.perf_counter() - t0
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--device", "cpu"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_page = float("nan")
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        first_page = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.05)
        first_request = warm_request = float("nan")
        if first_page == first_page:  # served: the first request loads the model, the second finds it loaded
            from gradio_client import Client

            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            t1 = time.perf_counter()
            client.predict("digits-dcgan", 0, 1, None, 0, api_name="/generate")
            first_request = time.perf_counter() - t1
            warm_request = median(timed(lambda: client.predict("digits-dcgan", 1, 1, None, 0, api_name="/generate"),
                                        repeats=3, warmup=0))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return {"app_help_s": help_s, "cli_help_s": cli_help_s, "app_first_page_s": first_page,
            "first_request_unloaded_model_s": first_request, "request_loaded_model_s": warm_request}
