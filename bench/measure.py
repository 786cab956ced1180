"""Measuring: wall-clock timers (CUDA-synchronised), memory readers, FLOP counts, the machine's
dense throughput, and the PSNR between two images."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image


def timed(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def timed_interleaved(fns: dict[str, Callable[[], Any]], *, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each function, run in turns (a, b, c, a, b, c, …) so that each sees the same
    machine state (allocator, caches, clock); comparisons made this way are like for like."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name] += timed(fn, repeats=1, warmup=0)
    return {name: median(xs) for name, xs in times.items()}


# ---- memory ---------------------------------------------------------------------------------------
def status_mb(field: str) -> float:
    """A memory line of /proc/self/status (``VmHWM``: peak resident set, ``VmRSS``: current) in MB."""
    for line in open("/proc/self/status"):
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return status_mb("VmHWM")


def reset_peak_rss() -> None:
    try:  # Linux: "5" resets the peak resident set size (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


# ---- work -----------------------------------------------------------------------------------------
def flops_of(fn: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_gflops(dtype: torch.dtype, device: str, *, n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """The machine's dense throughput in GFLOP/s, measured two ways: an n×n×n ``torch.mm``
    (MKL/cuBLAS) and GEMM-shaped convolutions (oneDNN on CPU, the library the generators' convolutions
    run on: 1×1 over 1024 channels at 64×64 and 3×3 over 256 channels at 64×64). On CPUs where MKL
    takes a slower path (it does on AMD) the convolutions are the faster; ``peak`` is the best."""
    import torch.nn.functional as F

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    c = torch.empty(n, n, device=device, dtype=dtype)
    out = {"mm": 2 * n**3 / median(timed(lambda: torch.mm(a, b, out=c), repeats=repeats, warmup=2)) / 1e9}
    for name, channels, k in (("conv1x1", 1024, 1), ("conv3x3", 256, 3)):
        x = torch.randn(1, channels, 64, 64, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(channels, channels, k, k, device=device, dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        with torch.inference_mode():
            seconds = median(timed(lambda: F.conv2d(x, w, padding=k // 2), repeats=repeats, warmup=2))  # noqa: B023 - timed() runs it now
        out[name] = 2 * channels * channels * k * k * 64 * 64 / seconds / 1e9
    out["peak"] = max(out.values())
    return out


def psnr(a: Image.Image, b: Image.Image) -> float:
    import numpy as np

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)
