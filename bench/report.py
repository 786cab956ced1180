"""Markdown tables from a benchmark result file, for docs/benchmarks.md.

    python -m bench.report [bench/results/latest.json] [--compile bench/results/compile.json]

Prints the tables; the prose around them in docs/benchmarks.md is written by hand.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.1f}"


def ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def db(x: float) -> str:
    return "exact" if x is None or math.isinf(x) else f"{x:.1f} dB"


def machine(report: dict[str, Any]) -> str:
    m = report["machine"]
    peaks = report["matmul_gflops"]
    lines = [f"- {m['platform']}, Python {m['python']}, torch {m['torch']}, {m['threads']} threads, "
             f"{m['cpu_count']} CPUs, device `{m['device']}`"]
    for kind, p in peaks.items():
        lines.append(f"- dense throughput {kind}: `torch.mm` {p['mm']:.0f} GFLOP/s, 1×1 convolution "
                     f"{p['conv1x1']:.0f}, 3×3 convolution {p['conv3x3']:.0f} → **peak {p['peak']:.0f} GFLOP/s**")
    floor = report.get("client_floor_s")
    if floor:
        lines.append(f"- client overhead on a bare Gradio echo app: `gradio_client` {floor['gradio_client'] * 1000:.0f} ms, "
                     f"REST {floor['http'] * 1000:.0f} ms per call")
    return "\n".join(lines)


def cases_table(report: dict[str, Any]) -> str:
    peaks = report["matmul_gflops"]
    rows = ["| case | batch | reference ms | pipeline fp32 | app, gradio_client | app, REST | as shipped | GFLOP | "
            "reference GFLOP/s (% fp32 peak) | as shipped GFLOP/s (% of its precision's peak) | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in report["cases"]:
        flops = c["flops"]
        ref_gf = flops / c["reference_s"] / 1e9
        ship_gf = flops / c["default_s"] / 1e9
        prec = c.get("default_precision") or "fp32"
        app = f"{ms(c['app_s'])} ({ratio(c['app_ratio'])})" if c.get("app_s") else "–"
        http = f"{ms(c['app_http_s'])} ({ratio(c['app_http_ratio'])})" if c.get("app_http_s") else "–"
        rows.append(
            f"| {c['name']} | {c['batch']} | {ms(c['reference_s'])} | {ms(c['pipeline_s'])} ({ratio(c['pipeline_ratio'])}) "
            f"| {app} | {http} | {ms(c['default_s'])} ({ratio(c['default_ratio'])}, {prec}) | {flops / 1e9:.2f} "
            f"| {ref_gf:.0f} ({100 * ref_gf / peaks['fp32']['peak']:.0f} %) "
            f"| {ship_gf:.0f} ({100 * ship_gf / peaks[prec if prec in peaks else 'fp32']['peak']:.0f} %) "
            f"| {c.get('peak_rss_mb') or 0:.0f} |")
    return "\n".join(rows)


def variants_table(variants: dict[str, Any]) -> str:
    names = list(next(iter(variants.values())))
    rows = ["| case | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for case, v in variants.items():
        cells = []
        for name in names:
            x = v.get(name)
            cells.append("–" if x is None else f"{x['seconds'] * 1000:,.1f} ms **{x['speedup']:.2f}×** ({db(x['psnr_vs_fp32_db'])})")
        rows.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def concurrency_table(concurrency: dict[str, Any]) -> str:
    rows = ["| generator | batching | REST: one at a time → 8 clients (img/s) | gradio_client: one at a time → 8 clients "
            "(img/s) | forward passes / model calls |", "|---|---|---|---|---|"]
    for case, modes in concurrency.items():
        for mode, r in modes.items():
            h, g = r["http"], r["gradio_client"]
            passes = f"{r['forward_passes']} / {r['model_calls']}" if "forward_passes" in r else "–"
            rows.append(f"| {case} | {mode} | {h['sequential_img_s']:.1f} → {h['concurrent_img_s']:.1f} "
                        f"(**{h['speedup']:.2f}×**) | {g['sequential_img_s']:.1f} → {g['concurrent_img_s']:.1f} "
                        f"(**{g['speedup']:.2f}×**) | {passes} |")
    return "\n".join(rows)


def tiling_table(tiling: list[dict[str, Any]]) -> str:
    rows = ["| photo | mode | seconds | s per megapixel | peak RSS increase MB |", "|---|---|---|---|---|"]
    for t in tiling:
        rows.append(f"| {t['side']}×{t['side']} | {'tiled (512 px, 64 px overlap)' if t['tiled'] else 'one pass'} "
                    f"| {t['seconds']:.1f} | {t['s_per_megapixel']:.2f} | {t['peak_rss_increase_mb']:.0f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result", nargs="?", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--compile", help="a second result file (run with --compile) for the torch.compile table")
    args = parser.parse_args(argv)
    report = json.loads(Path(args.result).read_text())
    print(machine(report), end="\n\n")
    print(cases_table(report), end="\n\n")
    if report.get("variants"):
        print(variants_table(report["variants"]), end="\n\n")
    if args.compile:
        print(variants_table(json.loads(Path(args.compile).read_text())["variants"]), end="\n\n")
    if report.get("concurrency"):
        print(concurrency_table(report["concurrency"]), end="\n\n")
    if report.get("tiling"):
        print(tiling_table(report["tiling"]), end="\n\n")
    if report.get("cold_start"):
        print("cold start:", json.dumps({k: round(v, 3) for k, v in report["cold_start"].items()}))
    if report.get("load_time_s"):
        print("load time (s):", json.dumps({k: round(v, 3) for k, v in report["load_time_s"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
