"""The benchmark harness stays runnable: a package run as ``python -m bench.benchmark`` from the
repository root, with its measuring helpers doing what they say. No timing is asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench.measure import median, psnr, timed_interleaved

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_runs_as_a_module_from_the_repository_root():
    out = subprocess.run([sys.executable, "-m", "bench.benchmark", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for option in ("--quick", "--device", "--repeats", "--no-app", "--only", "--no-variants", "--compile", "--out"):
        assert option in out.stdout


def test_timed_interleaved_runs_each_function_in_turns():
    calls: list[str] = []
    times = timed_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert set(times) == {"a", "b"}
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-up of each, then a, b, a, b, …
    assert median([]) != median([])  # NaN for no samples


def test_psnr_is_infinite_for_identical_images_and_finite_otherwise():
    a = Image.new("RGB", (8, 8), (10, 20, 30))
    b = Image.new("RGB", (8, 8), (11, 20, 30))
    assert psnr(a, a) == float("inf")
    assert psnr(a, b) == pytest.approx(10 * __import__("math").log10(255.0**2 / (1 / 3)))


def test_the_stylegan_cases_are_built_when_named_even_with_quick(tmp_path: Path):
    from bench.cases import build_cases

    cases = build_cases(tmp_path, True, ["stylegan2_256", "stylegan3_t_256"])
    stylegan = {c["name"]: c for c in cases if c["name"].startswith("stylegan")}
    assert list(stylegan) == ["stylegan2_256", "stylegan3_t_256"]  # stylegan2_1024 not named, not built
    assert all(c["kind"] == "generate" and c["batch"] == 1 and c["variants"] == ("fp32", "bf16")
               for c in stylegan.values())
    assert stylegan["stylegan2_256"]["module"].synthesis.b256.conv1.weight.shape[0] == 64  # channel_base 16384
    assert not any(c["name"].startswith("stylegan") for c in build_cases(tmp_path / "q", True))
