"""The 2-D playground's speed: training steps per second against a plain PyTorch loop of the same
MLP step, and frames drawn per second (what one tick of the Train tab draws).

    python -m bench.playground [--steps 500] [--repeats 5] [--threads 1] [--browser 20] [--out bench/results/playground.json]

* ``reference``: the same generator and discriminator (``nn.Sequential`` MLPs of the preset's
  depth and width), Adam, the non-saturating loss, the ring sampled inline: a hand-written loop with
  nothing else, the floor for one step of this game in eager PyTorch;
* ``playground``: :class:`gan_studio.training.playground.Playground` on the ``stable`` preset (the
  same networks and loss), with its measures (JS divergence and mode coverage every 10 steps) and
  without them (every 10 000 steps), so the cost of the measures shows apart from the step;
* ``wgan-gp``: the playground on the ``wgan-gp`` preset (three critic steps with a gradient penalty
  per G step), for scale;
* frames: ``snapshot()`` (fakes, D over a 64 × 64 grid, the gradient arrows, the warped grid),
  ``render_plane`` + ``render_curves`` (Pillow), and encoding both images as the tab sends them
  (PNG at zlib level 1, base64), each timed, and frames/s from their sum;
* ``--browser SECONDS``: the Train tab itself, played in headless Chromium (``/usr/bin/chromium``):
  the plane images shown per second and the training steps per second, as a user sees them
  (each tick trains for at most 0.12 s, then draws; ticks every 0.25 s).

Medians over ``--repeats``, the variants timed in turns; the machine's load average is recorded
next to the figures because the CPU is shared. Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import ROOT
from .measure import median, timed_interleaved


def reference_loop(config: Any, steps: int) -> Callable[[], None]:
    """A plain PyTorch loop of the playground's step on the ring (non-saturating loss, Adam)."""
    torch.manual_seed(config.seed)

    def mlp(n_in: int, n_out: int, depth: int, width: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(n_in if i == 0 else width, width), nn.LeakyReLU(0.2)]
        return nn.Sequential(*layers, nn.Linear(width, n_out))

    G = mlp(config.noise_dim, 2, config.g_depth, config.g_width)
    D = mlp(2, 1, config.d_depth, config.d_width)
    g_opt = torch.optim.Adam(G.parameters(), lr=config.g_lr, betas=(config.adam_beta1, config.adam_beta2))
    d_opt = torch.optim.Adam(D.parameters(), lr=config.d_lr, betas=(config.adam_beta1, config.adam_beta2))
    angles = torch.arange(8) * (2 * math.pi / 8)
    centres = torch.stack([angles.cos(), angles.sin()], 1)
    n = config.batch_size
    softplus = nn.functional.softplus

    def run() -> None:
        for _ in range(steps):
            real = centres[torch.randint(8, (n,))] + 0.05 * torch.randn(n, 2)
            with torch.no_grad():
                fake = G(torch.randn(n, config.noise_dim))
            d_loss = softplus(-D(real)).mean() + softplus(D(fake)).mean()
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            g_loss = softplus(-D(G(torch.randn(n, config.noise_dim)))).mean()
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            float(d_loss.detach()), float(g_loss.detach())  # the playground reads both losses every step too

    return run


def frame_times(pg: Any, repeats: int) -> dict[str, float]:
    """Median seconds of each part of one drawn frame."""
    from gan_studio.training.playground_draw import render_curves, render_plane
    from gan_studio.ui.train import image_html

    parts: dict[str, list[float]] = {"snapshot": [], "draw": [], "png": []}
    for i in range(repeats + 1):
        pg.step()  # a new state each frame, as when playing (the history grows, new labels are drawn)
        t0 = time.perf_counter()
        snap = pg.snapshot()
        t1 = time.perf_counter()
        plane = render_plane(snap, 420, caption=False)
        curves = render_curves(snap.history, (420, 420), n_modes=len(snap.modes))
        t2 = time.perf_counter()
        for image in (plane, curves):
            image_html(image, "")  # PNG (zlib level 1) + base64, as the tab sends it
        t3 = time.perf_counter()
        if i:  # the first is a warm-up
            parts["snapshot"].append(t1 - t0)
            parts["draw"].append(t2 - t1)
            parts["png"].append(t3 - t2)
    return {k: median(v) for k, v in parts.items()}


def browser_rates(seconds: float = 20.0) -> dict[str, float]:
    """Play the Train tab's playground in headless Chromium for ``seconds`` and count what the user
    sees: new plane images per second and training steps per second (read off the status line)."""
    import re
    import socket

    import gradio as gr
    from playwright.sync_api import sync_playwright

    from gan_studio.ui.train import build_train_tab

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with gr.Blocks() as demo:
        build_train_tab()
    demo.queue(api_open=False)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)

    def step_of(page: Any) -> int:
        found = re.search(r"step (\d+)", page.locator("#pg-status").inner_text())
        return int(found.group(1)) if found else 0

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 1150})
            page.goto(demo.local_url, wait_until="load")
            plane = page.locator("#pg-plane img")
            first = plane.get_attribute("src")
            page.locator("#pg-play").click()
            while plane.get_attribute("src") == first:  # the first tick
                page.wait_for_timeout(50)
            src, frames, start_step = plane.get_attribute("src"), 0, step_of(page)
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                page.wait_for_timeout(50)
                now = plane.get_attribute("src")
                if now != src:
                    src, frames = now, frames + 1
            elapsed = time.perf_counter() - start
            steps = step_of(page) - start_step
            page.locator("#pg-pause").click()
            browser.close()
    finally:
        demo.close()
    return {"frames_per_s": frames / elapsed, "steps_per_s": steps / elapsed, "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500, help="training steps per timed run (default 500)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the app's playground)")
    parser.add_argument("--browser", type=float, default=0, metavar="SECONDS",
                        help="also play the tab in headless Chromium for SECONDS and count frames and steps shown")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "playground.json"), help="JSON result file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from gan_studio.training.playground import PRESETS, Playground

    stable = PRESETS["stable"].config
    wgan = PRESETS["wgan-gp"].config
    steps = args.steps
    measured = Playground(stable)
    bare = Playground(replace(stable, metrics_every=10_000))
    critic = Playground(wgan)
    reference = reference_loop(stable, steps)
    load_before = os.getloadavg()[0]
    times = timed_interleaved({
        "reference": reference,
        "playground": lambda: measured.run(steps),
        "playground_no_measures": lambda: bare.run(steps),
        "wgan-gp": lambda: critic.run(max(1, steps // 4)),
    }, repeats=args.repeats, warmup=1)
    times["wgan-gp"] *= steps / max(1, steps // 4)
    frames = frame_times(measured, args.repeats * 4)
    frame_s = sum(frames.values())
    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                    "load_average_before_after": [load_before, os.getloadavg()[0]]},
        "preset": "stable", "batch_size": stable.batch_size, "steps_per_run": steps,
        "steps_per_s": {k: steps / v for k, v in times.items()},
        "playground_over_reference": times["playground"] / times["reference"],
        "playground_no_measures_over_reference": times["playground_no_measures"] / times["reference"],
        "frame_s": frames, "frames_per_s": 1.0 / frame_s,
    }
    print(f"steps/s (batch {stable.batch_size}, {torch.get_num_threads()} thread(s), load average "
          f"{load_before:.1f}):")
    for name, value in report["steps_per_s"].items():
        print(f"  {name:24s} {value:8.0f}")
    print(f"  playground / reference time: {report['playground_over_reference']:.2f} "
          f"(without measures {report['playground_no_measures_over_reference']:.2f})")
    print("frame: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in frames.items())
          + f" -> {report['frames_per_s']:.1f} frames/s")
    if args.browser > 0:
        torch.set_num_threads(max(1, os.cpu_count() or 1))  # the app as launched: torch's default threads
        report["browser"] = browser_rates(args.browser)
        print("in the browser (Train tab, playing the stable preset): "
              f"{report['browser']['frames_per_s']:.1f} frames/s, {report['browser']['steps_per_s']:.0f} steps/s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
