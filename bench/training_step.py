"""Time per image-training step ("Train on images"): DCGAN-32 at batch 64 against plain PyTorch.

    python -m bench.training_step [--repeats 5] [--steps 20] [--threads N] [--device cpu|cuda] [--out FILE]

``reference``: one D step and one G step written in plain PyTorch on the same networks (the DCGAN
generator of the PyTorch tutorial at 32 px, the studio's spectral-normalised image discriminator), non-saturating
loss, Adam, a float batch already in memory. ``studio``: :meth:`ImageGANTrainer.train_step` with the
same settings (EMA on, DiffAugment off), which adds drawing the batch from the uint8 data set and
the EMA update; ``studio+diffaugment``: the same with DiffAugment on (the default below 2,000
images). Each variant runs ``--steps`` steps per repeat, in turns, after a warm-up; the median
per-step time is reported with its ratio to the reference. Nothing is asserted: figures only.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import ROOT


def reference_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                   real: torch.Tensor, nz: int, gen: torch.Generator) -> None:
    """One plain-PyTorch non-saturating GAN step (BCE on logits)."""
    n = real.shape[0]
    z = torch.randn(n, nz, 1, 1, generator=gen).to(real.device)
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake.detach())
    loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
        F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    fake_logits = D(fake)
    loss_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    _ = (float(loss_d.detach()), float(loss_g.detach()))  # the studio reads its losses back too


def plain_dcgan32(nz: int, ngf: int, nc: int) -> nn.Sequential:
    """The PyTorch DCGAN tutorial's generator with one block fewer (32 px), written out."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "training_step.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from gan_studio.training.image_gan import ImageData, ImageDiscriminator, ImageGANTrainer, TrainSettings

    nz, ngf, ndf, nc, size = 100, 32, 32, 3, 32
    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(512, nc, size, size, generator=gen) * 255).to(torch.uint8)
    data = ImageData(images=images, labels=None, classes=[], source="random pixels (benchmark)")
    dev = torch.device(args.device)

    torch.manual_seed(0)
    G = plain_dcgan32(nz, ngf, nc).to(dev)
    D = ImageDiscriminator(nc=nc, ndf=ndf, image_size=size).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = data.as_float(torch.arange(args.batch) % len(data)).to(dev)

    common = {"architecture": "dcgan", "image_size": size, "loss": "non-saturating", "batch_size": args.batch,
              "nz": nz, "ngf": ngf, "ndf": ndf, "device": args.device, "steps": 10**9}
    studio = ImageGANTrainer(TrainSettings(**common, diffaugment="off"), data)
    studio_aug = ImageGANTrainer(TrainSettings(**common, diffaugment="on"), data)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    variants: dict[str, Any] = {
        "reference": lambda: reference_step(G, D, opt_g, opt_d, real, nz, gen),
        "studio": studio.train_step,
        "studio+diffaugment": studio_aug.train_step,
    }
    for fn in variants.values():  # warm-up
        for _ in range(3):
            fn()
    sync()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                fn()
            sync()
            times[name].append((time.perf_counter() - t0) / args.steps)
    ref = statistics.median(times["reference"])
    result = {"case": f"DCGAN-{size} batch {args.batch} (nz {nz}, ngf {ngf}, ndf {ndf}, {nc} channels)",
              "device": args.device, "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__, "repeats": args.repeats, "steps_per_repeat": args.steps, "variants": {}}
    print(f"{result['case']} on {args.device}, {torch.get_num_threads()} thread(s): median time per step")
    for name, ts in times.items():
        med = statistics.median(ts)
        result["variants"][name] = {"median_s": round(med, 5), "min_s": round(min(ts), 5), "ratio": round(med / ref, 3)}
        print(f"  {name:20s} {med * 1000:8.1f} ms/step   ×{med / ref:.2f} of the reference   (min {min(ts) * 1000:.1f} ms)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
