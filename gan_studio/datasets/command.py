"""``python -m gan_studio dataset``: the sub-command's options and what it runs (the CLI wires it in)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from .plan import FORMATS, DatasetRequest

logger = logging.getLogger(__name__)

__all__ = ["add_dataset_parser", "cmd_dataset", "request_from_args"]

HELP = "write a synthetic dataset (ImageFolder, Parquet or WebDataset) from a generator, or run an image model " \
       "over a folder"


def add_dataset_parser(sub: Any, common: Callable[..., None]) -> argparse.ArgumentParser:
    """Add the ``dataset`` sub-command to ``sub`` (``common(parser, runtime=True)`` adds the shared options)."""
    p: argparse.ArgumentParser = sub.add_parser("dataset", help=HELP, description=HELP + ". The same command gives "
                                                "the same files; an interrupted run continues with --resume.")
    common(p, runtime=True)
    p.add_argument("--model", required=True, help="registry id, local model folder or Hub repo id")
    count = p.add_mutually_exclusive_group()
    count.add_argument("--n", "-n", type=int, help="images from a generator (with --labels: split evenly over them)")
    count.add_argument("--per-class", type=int, metavar="K", help="K images of each class (conditional generators; "
                       "with --labels: of each of those)")
    p.add_argument("--labels", nargs="+", metavar="CLASS", help="only these classes (names or indices)")
    p.add_argument("--truncation", type=float, help="latent truncation (e.g. 0.7); default none")
    p.add_argument("--steps", type=int, help="sampling steps of a diffusion model (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="base seed; chunk k of a generator run starts at seed + "
                   "k × batch size, image j of a folder run uses seed + j (default 0)")
    p.add_argument("--input", metavar="DIR", help="run a translation, multidomain or colorization model over every "
                   "image under DIR (recursively; sub-folders and file names are kept)")
    p.add_argument("--direction", help="--input: direction of a two-way translator (e.g. AtoB)")
    p.add_argument("--attributes", nargs="*", help="--input: target attributes of a multidomain (StarGAN) model")
    p.add_argument("--size", type=int, help="--input: working size, short side in px (default: the model's)")
    p.add_argument("--strength", type=float, help="--input: a colorizer's colour strength (default 1)")
    p.add_argument("--out", required=True, help="output folder (new or empty; or the folder of a run to --resume)")
    p.add_argument("--format", choices=FORMATS, default="parquet", help="imagefolder (class sub-folders of PNGs), "
                   "parquet (Hugging Face datasets) or webdataset (tar shards); default parquet")
    p.add_argument("--shard-size", type=int, default=1000, help="images per shard (default 1000)")
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default 16); part of the "
                   "arguments, since it fixes the chunks")
    p.add_argument("--min-confidence", type=float, metavar="T", help="keep only samples the model's evaluator "
                   "classifies as their class with probability >= T (conditional models with an evaluator)")
    p.add_argument("--dedupe", action="store_true", help="drop near-duplicates of earlier samples and of the "
                   "training set named by the model card (64-bit perceptual hash)")
    p.add_argument("--dedupe-bits", type=int, help="near-duplicate threshold in differing hash bits (default 2)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same arguments)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="compute on Ray (Ray Data actors): no ADDRESS = RAY_ADDRESS or a new local instance; "
                        "else e.g. auto or ray://head:10001. Needs pip install -r requirements-ray.txt")
    p.add_argument("--ray-workers", type=int, default=2, help="Ray actors, each holding the model once (default 2)")
    p.set_defaults(func=cmd_dataset)
    return p


def request_from_args(args: argparse.Namespace) -> DatasetRequest:
    """The :class:`DatasetRequest` of parsed ``dataset`` arguments."""
    return DatasetRequest(
        model=args.model, format=args.format, n=args.n, per_class=args.per_class, labels=tuple(args.labels or ()),
        truncation=args.truncation, steps=args.steps, seed=args.seed, input_dir=args.input,
        direction=args.direction, attributes=tuple(args.attributes or ()), working_size=args.size,
        strength=args.strength, shard_size=args.shard_size, batch_size=args.batch_size,
        min_confidence=args.min_confidence, dedupe=args.dedupe, dedupe_bits=args.dedupe_bits,
    )


def cmd_dataset(args: argparse.Namespace) -> int:
    """Run the ``dataset`` sub-command: progress on a tqdm bar (images/s, ETA), a summary line at the end."""
    from tqdm.auto import tqdm

    from ..runtime import runtime_kwargs
    from ..studio import Studio
    from . import write_dataset

    request = request_from_args(args)
    runtime = runtime_kwargs(args)
    studio = Studio(models_file=args.models, device=args.device, batching=False, **runtime)
    bar = tqdm(desc="dataset", unit="img", disable=None, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.n = bar.last_print_n = done  # a resumed run starts where it stopped (rate counts new images)
            bar.refresh()
        bar.update(done - bar.n)

    try:
        summary = write_dataset(request, args.out, studio=studio, resume=args.resume, progress=progress,
                                ray_address=args.ray, ray_workers=args.ray_workers, device=args.device,
                                models_file=args.models, runtime=runtime)
    finally:
        bar.close()
    dropped = ", ".join(f"{k} {v}" for k, v in summary.dropped.items())
    print(f"{summary.path}: {summary.total} images in {summary.num_shards} {args.format} shard(s)"
          + (f"; dropped {dropped}" if dropped else ""))
    return 0
