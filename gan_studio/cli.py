"""``python -m gan_studio``: the command-line interface.

Every sub-command has ``--help``. Errors the user can fix print one readable line and exit with
status 2; any other failure is a fault of the studio: its traceback is logged under a short id, the
last line names the id, and the exit status is 1. Output files are never overwritten unless
``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import GanStudioError, report_internal_error

logger = logging.getLogger("gan_studio")



class CliError(GanStudioError):
    """A usage error found after parsing (e.g. an output file that exists)."""


# ---- helpers -----------------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser, *, device: bool = True, runtime: bool = False) -> None:
    parser.add_argument("--models", metavar="FILE", help="extra models from a TOML file (see README, 'Adding models')")
    if device:
        parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps; default auto")
    if runtime:
        from .runtime import add_runtime_arguments

        add_runtime_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def _studio(args: argparse.Namespace) -> Any:
    from .runtime import runtime_kwargs
    from .studio import Studio

    return Studio(models_file=args.models, device=getattr(args, "device", "auto"), **runtime_kwargs(args))


def _check_output(path: Path, overwrite: bool, *, suffixes: tuple[str, ...] = (".png", ".gif")) -> Path:
    if path.suffix.lower() not in suffixes:
        raise CliError(f"output {str(path)!r} must end in {' or '.join(suffixes)}")
    if path.exists() and not overwrite:
        raise CliError(f"{str(path)!r} exists; pass --overwrite or choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _progress_bar(total: int, desc: str) -> Any:
    """A tqdm bar driven by the pipelines' ``progress(fraction, message)`` callback."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="img", disable=None, leave=False)

    def update(fraction: float, message: str) -> None:
        bar.n = round(fraction * total)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    update.close = bar.close  # type: ignore[attr-defined]
    return update


def _tile_progress_bar(desc: str) -> Any:
    """A tqdm bar over tiles for full-resolution translation (its total comes with the first "tile k/n")."""
    from tqdm.auto import tqdm

    from .pipelines.tiling import parse_tile_message

    bar = tqdm(total=None, desc=desc, unit="tile", disable=None, leave=False)

    def update(fraction: float, message: str) -> None:
        counts = parse_tile_message(message)
        if counts is None:
            bar.set_postfix_str(message, refresh=True)
            return
        done, total = counts
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    update.close = bar.close  # type: ignore[attr-defined]
    return update


def _save(image: Any, params: dict[str, Any], path: Path, overwrite: bool, source: str | None = None) -> None:
    from .credentials import save_png, studio_ingredients  # watermark + text provenance + signed C2PA manifest

    # an input that is itself a studio output is recorded in the manifest as an ingredient
    save_png(image, path, params, overwrite=overwrite, ingredients=studio_ingredients(source))
    print(path)


def _load_input(path: str, *, keep_alpha: bool = False) -> Any:
    from .image_io import load_image

    image, notes = load_image(path, keep_alpha=keep_alpha)  # keep_alpha: the result gets the input's alpha
    for note in notes:
        logger.warning("%s: %s", Path(path).name, note)
    return image


# ---- sub-commands ------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from .registry import load_registry

    specs = load_registry(args.models).list(args.task)
    if args.json:
        print(json.dumps([s.summary() for s in specs], indent=2, ensure_ascii=False))
        return 0
    rows = [("ID", "TASK", "ARCHITECTURE", "SIZE", "LICENCE", "DESCRIPTION")]
    for s in specs:
        size = f"{s.image_size}px" if s.image_size else "any"
        rows.append((s.id, s.task.value, s.architecture, size, s.license, s.description))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[5])
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .image_io import make_grid

    out = _check_output(Path(args.output), args.overwrite)
    studio = _studio(args)
    bar = _progress_bar(args.n, "generating")
    try:
        results = studio.generate(args.model, seed=args.seed, n=args.n, label=args.label,
                                  truncation=args.truncation, batch_size=args.batch_size, progress=bar,
                                  steps=args.steps, noise_mode=args.noise_mode,
                                  truncation_cutoff=args.truncation_cutoff,
                                  translate=tuple(args.translate) if args.translate else None, rotate=args.rotate)
    finally:
        bar.close()
    if args.separate:
        for r in results:
            _save(r.image, r.params, out.with_name(f"{out.stem}-{r.params['seed']}.png"), args.overwrite)
        return 0
    if len(results) == 1:
        _save(results[0].image, results[0].params, out, args.overwrite)
        return 0
    params = dict(results[0].params)
    params.update(seed=args.seed, n=args.n, seeds=[r.params["seed"] for r in results],
                  labels=[r.params.get("label") for r in results], grid_cols=args.cols)
    if args.label is None:
        params.pop("label", None)
    _save(make_grid([r.image for r in results], cols=args.cols), params, out, args.overwrite)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from .image_io import frames_to_gif

    if args.duration <= 0:
        raise CliError(f"--duration must be a positive number of milliseconds, got {args.duration}")
    out = _check_output(Path(args.output), args.overwrite)
    studio = _studio(args)
    bar = _progress_bar(args.frames, "interpolating")
    try:
        if args.space == "w":
            results = studio.w_interpolate(args.model, seed_a=args.seed_a, seed_b=args.seed_b, frames=args.frames,
                                           label=args.label, truncation=args.truncation, noise_mode=args.noise_mode,
                                           progress=bar)
        else:
            if args.noise_mode is not None:
                raise CliError("--noise-mode goes with --space w (interpolation in a StyleGAN's W space)")
            results = studio.interpolate(args.model, seed_a=args.seed_a, seed_b=args.seed_b, frames=args.frames,
                                         label=args.label, truncation=args.truncation, progress=bar)
    finally:
        bar.close()
    if out.suffix.lower() == ".gif":
        out.write_bytes(frames_to_gif([r.image for r in results], duration_ms=args.duration))
        print(out)
        return 0
    from .image_io import make_grid

    params = {k: v for k, v in results[0].params.items() if k != "t"}
    _save(make_grid([r.image for r in results]), params, out, args.overwrite)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    out = _check_output(Path(args.output), args.overwrite)
    studio = _studio(args)
    _run_image_task(args.input, out, _translate_step(studio, args), args.overwrite)
    return 0


def _translate_step(studio: Any, args: argparse.Namespace) -> Any:
    """Check the translate options in ``args`` and return ``run(image) -> Result`` for them
    (``cmd_translate`` and ``pipe``)."""
    from .contract import Task

    spec = studio.spec(args.model)
    if spec.task != Task.MULTIDOMAIN:
        spec.source_for(args.direction)  # a wrong direction fails before any work
    if not args.full_res and (args.tile is not None or args.overlap is not None or args.norm_stats is not None):
        raise CliError("--tile, --overlap and --norm-stats only apply with --full-res")
    if spec.task == Task.MULTIDOMAIN and (args.full_res or args.center_crop is not None):
        raise CliError(f"--full-res and --center-crop are for translation models; {spec.id!r} is a multidomain model")
    if spec.task != Task.MULTIDOMAIN and args.attributes:
        raise CliError(f"--attributes is for multidomain models; {spec.id!r} is a {spec.task.value} model")

    def run(image: Any) -> Any:
        if spec.task == Task.MULTIDOMAIN:
            return studio.translate_attributes(spec.id, image, args.attributes or [], seed=args.seed)
        bar = _tile_progress_bar("translating") if args.full_res else None
        try:
            return studio.translate(spec.id, image, direction=args.direction, working_size=args.size,
                                    seed=args.seed, full_resolution=args.full_res, tile_size=args.tile,
                                    overlap=args.overlap, center_crop=args.center_crop, progress=bar,
                                    norm_stats=args.norm_stats or "thumbnail")
        finally:
            if bar is not None:
                bar.close()

    return run


def _run_image_task(path: str, out: Path, run: Any, overwrite: bool) -> None:
    """Run an image task on the file at ``path`` and write ``out``: a PNG with provenance, or, for a
    ``.gif`` output, a GIF made frame by frame (an animated input keeps its frame durations and loop
    count; the provenance goes into the GIF's comment)."""
    from .image_io import is_animated_gif, load_animation

    if out.suffix.lower() != ".gif":
        if is_animated_gif(path):
            logger.warning("%s is animated: only its first frame is used; write to a .gif to run every frame",
                           Path(path).name)
        result = run(_load_input(path, keep_alpha=True))
        _save(result.image, result.params, out, overwrite, source=path)
        return
    from .pipelines.frames import run_frames

    animation = load_animation(path, keep_alpha=True)
    for note in animation.notes:
        logger.info("%s: %s", Path(path).name, note)
    bar = _progress_bar(len(animation.frames), "frames")
    try:
        done = run_frames(run, animation, progress=bar)
    finally:
        bar.close()
    if out.exists() and not overwrite:
        raise CliError(f"{str(out)!r} exists; pass --overwrite or choose another path")
    out.write_bytes(done.gif_bytes())
    print(out)


def cmd_colorize(args: argparse.Namespace) -> int:
    out = _check_output(Path(args.output), args.overwrite)
    studio = _studio(args)
    _run_image_task(args.input, out, _colorize_step(studio, args), args.overwrite)
    return 0


def _colorize_step(studio: Any, args: argparse.Namespace) -> Any:
    """``run(image) -> Result`` for the colorize options in ``args`` (``cmd_colorize`` and ``pipe``)."""
    size = args.size if args.render_factor is None else 16 * args.render_factor

    def run(image: Any) -> Any:
        return studio.colorize(args.model, image, working_size=size, strength=args.strength)

    return run


def _upscale_step(studio: Any, args: argparse.Namespace) -> Any:
    """``run(image) -> Result`` for the upscale options in ``args`` (``pipe``)."""

    def run(image: Any) -> Any:
        return studio.upscale(args.model, image, scale=args.scale, tile_size=args.tile)

    return run


# ---- pipe: a short chain of image tasks over a folder --------------------------------------------
#: The image tasks ``pipe`` can chain: command name -> ``step(studio, args) -> run(image) -> Result``,
#: where ``args`` are the step's options parsed by that command's own parser.
PIPE_STEPS: dict[str, Any] = {"translate": _translate_step, "colorize": _colorize_step, "upscale": _upscale_step}
PIPE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
# Options that belong to the whole pipe, not to one step.
_PIPE_GLOBAL = ("--device", "--models", "-o", "--output", "--overwrite", "--precision", "--channels-last",
                "--compile", "--threads")


def split_pipe_steps(texts: Sequence[str]) -> list[list[str]]:
    """The steps of a ``pipe``: each argument is one step (``"translate --model M"``), and ``|`` also
    separates steps inside one argument (``"translate --model M | colorize"``)."""
    import shlex

    steps: list[list[str]] = []
    for text in texts:
        current: list[str] = []
        for token in shlex.split(text):
            if token == "|":
                if current:
                    steps.append(current)
                current = []
            else:
                current.append(token)
        if current:
            steps.append(current)
    return steps


def _pipe_runs(studio: Any, steps: list[list[str]]) -> list[Any]:
    parser = build_parser()
    runs = []
    for tokens in steps:
        name, options = tokens[0], tokens[1:]
        if name not in PIPE_STEPS:
            raise CliError(f"unknown pipe step {name!r}; choose from: {', '.join(PIPE_STEPS)}")
        clash = [t for t in options if t.split("=")[0] in _PIPE_GLOBAL]
        if clash:
            raise CliError(f"{' '.join(clash)} in the step {' '.join(tokens)!r}: give it once, after the steps "
                           f"(it applies to the whole pipe); a step's output is the next step's input")
        try:
            step_args = parser.parse_args([name, *options, "PIPE_INPUT", "-o", "PIPE_OUT.png"])
        except SystemExit:
            raise CliError(f"the step {' '.join(tokens)!r} has options its command does not take "
                           f"(see python -m gan_studio {name} --help)") from None
        runs.append(PIPE_STEPS[name](studio, step_args))
    return runs


def run_chain(runs: Sequence[Any], image: Any) -> Any:
    """Run the steps ``runs`` (each ``run(image) -> Result``) one after the other on ``image``; each
    step's input carries the previous result's provenance, so the last result lists every step."""
    from .metadata import METADATA_KEY, provenance_json

    result = None
    for run in runs:
        if result is not None:
            image = result.image.copy()
            image.info = {METADATA_KEY: provenance_json(result.params)}
        result = run(image)
    return result


def pipe_inputs(root: Path) -> list[Path]:
    """The image files under ``root`` (recursive, sorted), or ``[root]`` for a file."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise CliError(f"--input {str(root)!r} is neither a file nor a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PIPE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def cmd_pipe(args: argparse.Namespace) -> int:
    from .errors import ImageInputError
    from .image_io import is_animated_gif

    steps = split_pipe_steps(args.steps)
    if not steps:
        raise CliError('pipe needs at least one step, e.g. "translate --model photo2sketch" "colorize"')
    root, out_root = Path(args.input), Path(args.out)
    files = pipe_inputs(root)
    if not files:
        raise CliError(f"no images ({', '.join(PIPE_SUFFIXES)}) under {str(root)!r}")
    studio = _studio(args)
    runs = _pipe_runs(studio, steps)
    done = skipped = failed = 0
    for path in files:
        relative = Path(path.name) if root.is_file() else path.relative_to(root)
        out = out_root / relative.with_suffix(".gif" if is_animated_gif(path) else ".png")
        if out.exists() and not args.overwrite:
            skipped += 1
            logger.info("%s exists: skipped", out)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            _run_image_task(str(path), out, lambda image: run_chain(runs, image), True)
        except ImageInputError as exc:  # one unreadable file does not stop the folder
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        done += 1
    print(f"pipe: {done} written, {skipped} already there (skipped), {failed} failed; {len(steps)} step(s): "
          + " | ".join(" ".join(s) for s in steps), file=sys.stderr)
    return 2 if failed else 0


UPSCALE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def _upscale_jobs(inputs: list[str], output: Path) -> list[tuple[Path, Path]]:
    """``(input file, output PNG)`` pairs: a folder is walked recursively and its structure kept
    under ``output``; a lone input file with an output ending in .png goes exactly there."""
    if len(inputs) == 1 and Path(inputs[0]).is_file() and output.suffix.lower() == ".png":
        return [(Path(inputs[0]), output)]
    if output.suffix.lower() in UPSCALE_SUFFIXES:
        raise CliError(f"output {str(output)!r} looks like a file; with several inputs or a folder, -o names a folder")
    jobs: list[tuple[Path, Path]] = []
    for name in inputs:
        src = Path(name)
        if src.is_dir():
            for f in sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in UPSCALE_SUFFIXES
                            and not p.name.startswith(".")):
                jobs.append((f, output / src.name / f.relative_to(src).with_suffix(".png")))
        elif src.is_file():
            jobs.append((src, output / src.with_suffix(".png").name))
        else:
            raise CliError(f"input {name!r} is neither a file nor a folder")
    return jobs


def _complete_png(path: Path, size: tuple[int, int] | None) -> bool:
    """Whether ``path`` is a whole, readable PNG (of ``size``, when given): a finished earlier output."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            return im.format == "PNG" and (size is None or im.size == size)
    except Exception:  # noqa: BLE001 - anything unreadable is redone
        return False


def cmd_upscale(args: argparse.Namespace) -> int:
    from PIL import Image

    from .pipelines.upscale import output_size

    jobs = _upscale_jobs(args.inputs, Path(args.output))
    if not jobs:
        raise CliError(f"no images ({', '.join(UPSCALE_SUFFIXES)}) found in {', '.join(args.inputs)}")
    studio = _studio(args)
    scale = args.scale if args.scale is not None else studio.load(args.model).contract.scale
    done = skipped = 0
    for src, dst in jobs:
        if dst.exists() and not args.overwrite:
            try:
                with Image.open(src) as im:
                    expected: tuple[int, int] | None = output_size(im.width, im.height, scale)
            except Exception:  # noqa: BLE001 - the load below reports a bad input properly
                expected = None
            if _complete_png(dst, expected):
                logger.info("%s exists and is complete; skipped", dst)
                skipped += 1
                continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        bar = _progress_bar(100, src.name)
        try:
            result = studio.upscale(args.model, _load_input(str(src), keep_alpha=True), scale=args.scale,
                                    tile_size=args.tile, progress=bar)
        finally:
            bar.close()
        _save(result.image, result.params, dst, overwrite=True, source=str(src))  # atomic: always whole
        done += 1
    logger.info("upscaled %d image(s), skipped %d finished one(s)", done, skipped)
    return 0


def cmd_style_mix(args: argparse.Namespace) -> int:
    out = _check_output(Path(args.output), args.overwrite)
    studio = _studio(args)
    mix = studio.style_mix(args.model, row_seeds=args.rows, col_seeds=args.cols, layers=args.layers,
                           label=args.label, truncation=args.truncation, truncation_cutoff=args.truncation_cutoff,
                           noise_mode=args.noise_mode)
    _save(mix.grid.image, mix.grid.params, out, args.overwrite)
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from safetensors.torch import save_file

    out = _check_output(Path(args.output), args.overwrite)
    styles = _check_output(Path(args.styles) if args.styles else out.with_suffix(".styles.safetensors"),
                           args.overwrite, suffixes=(".safetensors",))
    studio = _studio(args)
    bar = _progress_bar(args.steps, "projecting")
    try:
        found = studio.project(args.model, _load_input(args.input), steps=args.steps, space=args.space,
                               loss=args.loss, seed=args.seed, progress=bar)
    finally:
        bar.close()
    _save(found.result.image, found.result.params, out, args.overwrite)
    save_file({"ws": found.ws.contiguous()}, str(styles), metadata={"model": str(args.model), "space": args.space})
    print(styles)
    logger.info("projection loss %s after %d steps", found.result.params.get("final_loss"), len(found.losses))
    return 0


def _load_styles(path: str) -> Any:
    """The styles a ``project`` run saved (a safetensors file with one tensor, ``ws``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
    except (OSError, SafetensorError) as exc:
        raise CliError(f"--styles {path!r} is not a styles file written by `gan-studio project` ({exc})") from None
    if set(tensors) != {"ws"}:
        raise CliError(f"--styles {path!r} should hold one tensor 'ws', it holds {sorted(tensors)}")
    return tensors["ws"]


def cmd_directions(args: argparse.Namespace) -> int:
    out = _check_output(Path(args.output), args.overwrite)
    studio = _studio(args)
    if args.styles and not args.amounts:
        raise CliError("--styles goes with --amounts (an edit of the projected photo)")
    if args.amounts:
        result = studio.edit(args.model, seed=args.seed, amounts=args.amounts, layers=args.layers,
                             label=args.label, truncation=args.truncation, noise_mode=args.noise_mode,
                             ws=_load_styles(args.styles) if args.styles else None)
    else:
        result = studio.directions(args.model, seed=args.seed, k=args.k, steps=args.steps,
                                   max_amount=args.max_amount, layers=args.layers, truncation=args.truncation,
                                   noise_mode=args.noise_mode)
    _save(result.image, result.params, out, args.overwrite)
    return 0


def _style_command(params: dict[str, Any]) -> str | None:
    """The command of a style-space result (mixing grid, directions preview, edit), or None."""
    model, mode = params["model"], params.get("mode")
    layers = params.get("layers")
    layer_arg = f" --layers {layers}" if isinstance(layers, str) else ""
    if mode == "style-mix" and "row_seeds" in params:
        return (f"python -m gan_studio style-mix --model {model} --rows {' '.join(map(str, params['row_seeds']))} "
                f"--cols {' '.join(map(str, params['col_seeds']))}{layer_arg}")
    if mode == "directions":
        return (f"python -m gan_studio directions --model {model} --seed {params['seed']} -k {params['k']} "
                f"--steps {params['steps']} --max-amount {params['max_amount']}{layer_arg}")
    if mode == "edit" and params.get("projected"):
        return (f"python -m gan_studio directions --model {model} --styles STYLES.safetensors "
                f"--amounts {' '.join(map(str, params['directions']))}{layer_arg}")
    if mode == "edit":
        return (f"python -m gan_studio directions --model {model} --seed {params['seed']} "
                f"--amounts {' '.join(map(str, params['directions']))}{layer_arg}")
    if mode == "projection":
        return (f"python -m gan_studio project --model {model} INPUT --steps {params.get('steps_asked')} "
                f"--space {params.get('space')} --loss {params.get('loss')} --seed {params.get('seed', 0)}")
    return None


def _style_options(p: argparse.ArgumentParser, *, transform: bool = False) -> None:
    """A StyleGAN's controls: noise inputs, the truncation cutoff and (``transform``) a StyleGAN3's
    input shift and rotation; other models refuse them with a message."""
    p.add_argument("--noise-mode", choices=["const", "random", "none"],
                   help="a StyleGAN's noise inputs: const (stored, default), random (from the seed) or none")
    p.add_argument("--truncation-cutoff", type=int, metavar="N",
                   help="a StyleGAN's truncation applies to the first N style layers only (default all)")
    if transform:
        p.add_argument("--translate", type=float, nargs=2, metavar=("X", "Y"),
                       help="a StyleGAN3's input shift, in image widths (e.g. 0.1 0 moves the content right)")
        p.add_argument("--rotate", type=float, metavar="DEG", help="a StyleGAN3's input rotation in degrees")


def reproduce_command(params: dict[str, Any]) -> str | None:
    """The CLI command that reproduces an image from its provenance (None when it can't)."""
    model, task = params.get("model"), params.get("task")
    if not model:
        return None
    style = _style_command(params)
    if style is not None:
        cmd = style
    elif params.get("mode") == "interpolate":
        cmd = f"python -m gan_studio interpolate --model {model} --seed-a {params['seed_a']} --seed-b {params['seed_b']} --frames {params['frames']}"
        if params.get("space") == "w":
            cmd += " --space w"
    elif task in ("unconditional", "conditional"):
        cmd = f"python -m gan_studio generate --model {model} --seed {params.get('seed', 0)}"
        if params.get("n", 1) > 1:
            cmd += f" -n {params['n']}"
            if params.get("grid_cols"):
                cmd += f" --cols {params['grid_cols']}"
    elif task in ("translation", "multidomain"):
        cmd = f"python -m gan_studio translate --model {model} INPUT --seed {params.get('seed', 0)}"
        if params.get("variant"):
            cmd += f" --direction {params['variant']}"
        if params.get("attributes"):
            cmd += " --attributes " + " ".join(params["attributes"])
        if params.get("working_size") and task == "translation":
            cmd += f" --size {params['working_size']}"
        if params.get("full_resolution"):
            cmd += " --full-res"
            if params.get("tile_size"):
                cmd += f" --tile {params['tile_size']} --overlap {params.get('overlap', 0)}"
            if params.get("norm_stats") == "tile":
                cmd += " --norm-stats tile"
        if params.get("center_crop") is not None:
            cmd += " --center-crop" if params["center_crop"] else " --no-center-crop"
    elif task == "colorization":
        cmd = f"python -m gan_studio colorize --model {model} INPUT"
        if params.get("working_size"):
            cmd += f" --size {params['working_size']}"
        if params.get("strength") is not None:
            cmd += f" --strength {params['strength']}"
    elif task == "upscale":
        cmd = f"python -m gan_studio upscale --model {model} INPUT"
        if params.get("scale") is not None and params.get("scale") != params.get("model_scale"):
            cmd += f" --scale {params['scale']}"
        if params.get("tile_size") is not None:
            cmd += f" --tile {params['tile_size']}"
    else:
        return None
    if params.get("label") is not None:
        cmd += f" --label {params['label']}"
    if params.get("truncation") is not None:
        cmd += f" --truncation {params['truncation']}"
    if params.get("steps") is not None and params.get("mode") not in ("interpolate", "directions"):
        cmd += f" --steps {params['steps']}"
    if params.get("truncation_cutoff") is not None:
        cmd += f" --truncation-cutoff {params['truncation_cutoff']}"
    if params.get("noise_mode") is not None:
        cmd += f" --noise-mode {params['noise_mode']}"
    if params.get("translate") is not None:
        cmd += f" --translate {params['translate'][0]} {params['translate'][1]} --rotate {params.get('rotate', 0.0)}"
    if params.get("precision"):  # recorded when not fp32 (see gan_studio.runtime)
        cmd += f" --precision {params['precision']}"
    return cmd + " -o OUT.png"


def _output_suffix(params: dict[str, Any]) -> str:
    return ".gif" if params.get("animation") else ".png"


def chain_commands(params: dict[str, Any]) -> list[str] | None:
    """The commands that reproduce every step of a chain, in order (step k writes ``step-k.png`` and
    step k+1 reads it; the last writes ``OUT.png``), or None when a step has no command."""
    from .metadata import chain_steps

    steps = chain_steps(params)
    commands: list[str] = []
    previous = "INPUT"
    for index, step in enumerate(steps, start=1):
        command = reproduce_command(step)
        if command is None:
            return None
        out = "OUT" if index == len(steps) else f"step-{index}"
        out += _output_suffix(step)
        commands.append(command.replace(" INPUT", f" {previous}", 1).replace(" -o OUT.png", f" -o {out}"))
        previous = out
    return commands


def cmd_info(args: argparse.Namespace) -> int:
    from .metadata import chain_steps, describe_step, format_metadata, read_metadata

    params = read_metadata(args.file)
    if args.json:
        print(json.dumps(params, indent=2, ensure_ascii=False))
        return 0
    print(format_metadata(params))
    steps = chain_steps(params)
    if len(steps) > 1:
        print(f"\nmade in {len(steps)} steps:")
        for index, step in enumerate(steps, start=1):
            print(f"  {index}. {describe_step(step)}")
        commands = chain_commands(params)
        if commands:
            print("\nreproduce end to end with:")
            for line in commands:
                print(f"  {line}")
        return 0
    command = reproduce_command(params)
    if command:
        print(f"\nreproduce with:\n  {command.replace(' -o OUT.png', ' -o OUT' + _output_suffix(params))}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .architectures import architecture_class, architecture_names, resolve_architecture, task_of_architecture
    from .convert import load_converted
    from .weights import checkpoint_extras, extract_state_dict, save_model_folder

    src = Path(args.src)
    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise CliError(f"{str(out)!r} exists and is not empty; pass --overwrite or choose another folder")
    try:
        user_kwargs = json.loads(args.kwargs) if args.kwargs else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"--kwargs is not valid JSON: {exc}") from None
    if not isinstance(user_kwargs, dict):
        raise CliError("--kwargs must be a JSON object, e.g. '{\"ngf\": 64}'")
    if src.suffix == ".pkl":  # an NVIDIA network pickle: read by the allow-listed unpickler, nothing run
        from .convert import from_network_pickle

        module, architecture, kwargs = from_network_pickle(src, network=args.key or "G_ema")
    else:
        if not args.architecture:
            raise CliError("--architecture is required for this file; choose one of: "
                           + ", ".join(architecture_names()))
        architecture, kwargs = resolve_architecture(args.architecture, user_kwargs)
        checkpoint = architecture_class(architecture).read_weight_file(src)
        state = extract_state_dict(checkpoint, args.key, source=src.name)
        module, kwargs = load_converted(state, architecture, kwargs, source=src.name,
                                        extras=checkpoint_extras(checkpoint, state))
    task = args.task or task_of_architecture(architecture).value
    meta: dict[str, Any] = {"task": task, "converted_from": src.name, "license": args.license}
    if args.labels:
        meta["labels"] = args.labels
    if args.image_size:
        meta["image_size"] = args.image_size
    if not args.image_size and module.contract.native_size:
        meta["image_size"] = module.contract.native_size
    licence_note = (
        "\n**Licence:** NVIDIA's published StyleGAN weights are for non-commercial use only (NVIDIA Source Code "
        "License / CC BY-NC 4.0); weights you trained yourself are yours. Pass `--license` to record theirs.\n"
        if src.suffix == ".pkl" else "")
    card = (
        f"---\nlicense: {args.license}\nlibrary_name: gan_studio\ntags: [gan, {task}]\n---\n\n"
        f"# {out.name}\n\nConverted by `python -m gan_studio convert` from `{src.name}`"
        f"{' (an NVIDIA network pickle, read without running any code from it)' if src.suffix == '.pkl' else ''}.\n"
        f"{licence_note}\n"
        f"- architecture: `{architecture}`\n- config: `{json.dumps(kwargs, sort_keys=True)}`\n"
        f"- task: {task}\n\nLoad it with `python -m gan_studio generate --model {out}` (or translate/colorize).\n"
    )
    save_model_folder(module, out, architecture=architecture, kwargs=kwargs, meta=meta, card=card)
    print(out)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.data is not None:
        return _train_on_images(args)
    if args.recipe is None:
        from .errors import UserInputError

        raise UserInputError("name a recipe (e.g. digits-cgan) or train on images with --data DIR_OR_ZIP (or --data digits)")
    from .training import train

    path = train(args.recipe, args.out, steps=args.steps, seed=args.seed, resume=not args.no_resume,
                 device="cpu" if args.device == "auto" else args.device)
    print(path)
    return 0


def _train_on_images(args: argparse.Namespace) -> int:
    """``train --data DIR_OR_ZIP``: the "Train on images" run from the command line (Ctrl-C stops it
    after the current step; it saves its state and exports the model; run again to resume)."""
    import threading

    from .training.image_gan import MODEL_DIR, TrainSettings, load_image_data, train_images

    if args.recipe is not None:
        from .errors import UserInputError

        raise UserInputError(f"give either a recipe ({args.recipe!r}) or --data, not both")
    settings = TrainSettings(
        architecture=args.arch, image_size=args.size, loss=args.loss, steps=args.steps or 2000,
        batch_size=args.batch_size, diffaugment=args.diffaugment, ema=not args.no_ema, grow=args.grow,
        seed=args.seed, device="cpu" if args.device == "auto" else args.device, eval_every=args.eval_every,
        sample_every=args.sample_every)
    settings.check()
    out = Path(args.out)
    data = None
    if not (out / "data.pt").is_file():  # a resume reads the decoded images kept in the folder
        data = load_image_data(list(args.data), size=settings.image_size)
        print(f"data: {len(data)} images, {len(data.skipped)} skipped"
              + (f", classes {', '.join(data.classes)}" if data.classes else ""), file=sys.stderr)
    stop = threading.Event()
    result: dict[str, Any] = {}

    def report(progress: dict[str, Any]) -> None:
        if progress["status"] == "running" and progress["step"] % settings.sample_every:
            return  # the worker reports every ~2 s; the terminal shows the grid steps
        metrics = progress["metrics"][-1] if progress["metrics"] else {}
        losses = progress["losses"][-1][1:] if progress["losses"] else []
        print(f"[{progress['status']}] step {progress['step']}/{progress['total']} losses D/G {losses} "
              f"{json.dumps({k: v for k, v in metrics.items() if k != 'step'})}", file=sys.stderr)

    def work() -> None:
        try:
            result.update(train_images(out, settings, data=data, stop=stop, report=report))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread and raised there
            result["error"] = exc

    worker = threading.Thread(target=work, name="gan-studio-train")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        print("stopping after this step (the state is saved; run the same command to resume)…", file=sys.stderr)
        stop.set()
        worker.join()
    if "error" in result:
        raise result["error"]
    print(out / MODEL_DIR)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare, comparison_grid, format_comparison

    out = _check_output(Path(args.output), args.overwrite) if args.output else None
    studio = _studio(args)
    bar = _progress_bar(100, "comparing")
    try:
        label = None if args.label in ("random", "") else args.label
        result = compare(studio, gan=args.gan, diffusion=args.diffusion, label=label, seed=args.seed, n=args.n,
                         steps=args.steps, repeats=args.repeats, eval_samples=args.eval_n, eval_seed=args.eval_seed,
                         progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_comparison(result))
    if out is not None:
        params = {
            "mode": "compare", "rows": [result.gan.model, result.diffusion.model], "label": result.label,
            "seeds": result.seeds, "steps": result.diffusion.steps, "software": result.gan.results[0].params.get("software"),
            "ai_generated": True,
        }
        from .credentials import save_png

        save_png(comparison_grid(result), out, params, overwrite=args.overwrite)
        print(f"{out}  (row 1: {result.gan.model}, row 2: {result.diffusion.model})", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_evaluate_distribution(args: argparse.Namespace) -> int:
    """``evaluate --fid REAL FAKE`` and ``evaluate --model M --real DIR``: FID, KID, precision/recall."""
    from .evaluation.distribution import compare_folders, compare_model

    options = {"features": args.features, "kid_subset_size": args.kid_subset, "seed": args.seed,
               "download": not args.no_download}
    if args.fid:
        metrics = compare_folders(args.fid[0], args.fid[1], **options)
    else:
        if not args.real:
            raise CliError("--model needs --real DIR (the real images to compare with)")
        studio = _studio(args)
        model = args.model_id or args.model
        spec = studio.spec(model)

        def images() -> Any:
            for start in range(0, args.n, 64):
                for result in studio.generate(model, seed=args.seed + start, n=min(64, args.n - start)):
                    yield result.image

        metrics = {"model": spec.id, **compare_model(images(), args.real, **options)}
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            print(f"{key:>28}: {value}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, format_report
    from .registry import load_registry

    if args.fid or args.real or args.model_id:
        return cmd_evaluate_distribution(args)
    if not args.model:
        raise CliError("evaluate needs a MODEL, or --fid REAL_DIR FAKE_DIR, or --model M --real DIR")
    spec = load_registry(args.models).resolve(args.model)
    if spec.architecture == "diffusion":  # diffusers folders: the same metrics through gan_studio.compare
        from .compare import evaluate_generator
        from .studio import Studio

        loaded = Studio(models_file=args.models, device="cpu" if args.device == "auto" else args.device).load(args.model)
        metrics = {"model": spec.id, **evaluate_generator(
            loaded.module, num_classes=len(spec.labels) or 10, n_samples=args.n, seed=args.seed,
            conditional=spec.task.value == "conditional")}
        print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
        return 0
    # a Hub model is evaluated by its id, a local one by its folder (the registry always gives it a path)
    target = spec.source.path if spec.source.path is not None and not spec.source.is_hub else args.model
    metrics = evaluate(target, n_samples=args.n, seed=args.seed, device="cpu" if args.device == "auto" else args.device)
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
    return 0


def cmd_playground(args: argparse.Namespace) -> int:
    import csv

    from PIL import Image

    from .training.playground import Playground, get_preset, parse_points_csv, single_thread, with_changes
    from .training.playground_draw import render_frame, render_plane

    preset = get_preset(args.preset)
    changes: dict[str, Any] = {"seed": args.seed}
    for name in ("target", "loss", "noise_dim", "noise", "d_steps", "batch_size", "g_lr", "d_lr", "metrics_every"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    points = None
    if args.points:
        points = parse_points_csv(Path(args.points).read_bytes())
        changes.setdefault("target", "custom")
    config = with_changes(preset.config, **changes)
    out = Path(args.out)
    files = [out / "curves.csv", out / "curves.json", out / "final.png"]
    existing = [str(f) for f in files if f.exists()]
    if existing and not args.overwrite:
        raise CliError(f"{', '.join(existing)} exist(s); pass --overwrite or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    steps = preset.steps if args.steps is None else args.steps
    if steps < 0:
        raise CliError(f"--steps must be 0 or more, got {steps}")
    if args.filmstrip < 0 or args.filmstrip > 12:
        raise CliError(f"--filmstrip must be from 0 to 12 frames, got {args.filmstrip}")
    at = {max(1, round(i * steps / args.filmstrip)) for i in range(1, args.filmstrip + 1)} if args.filmstrip else set()
    planes = []

    def keep_frame(playground: Playground) -> None:
        if playground.g_updates in at:
            planes.append(render_plane(playground.snapshot(), 280))

    with single_thread():
        pg = Playground(config, points)
        pg.run(steps, callback=keep_frame if at else None)
        if pg.g_updates % config.metrics_every:
            pg.record()  # the final state is always the last row
    rows = pg.curves_table()
    with open(files[0], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    final = pg.measure()
    summary = {"preset": preset.name, "config": config.to_dict(), "steps": pg.g_updates, "d_updates": pg.d_updates,
               "final": {k: final[k] for k in ("js", "coverage", "modes", "quality", "counts")}, "history": rows}
    files[1].write_text(json.dumps(summary, indent=2))
    render_frame(pg.snapshot()).save(files[2])
    if planes:
        strip = Image.new("RGB", (len(planes) * 284 - 4, 280), "white")
        for i, plane in enumerate(planes):
            strip.paste(plane, (i * 284, 0))
        strip.save(out / "filmstrip.png")
        files.append(out / "filmstrip.png")
    print(f"{pg.g_updates} steps: {final['coverage']} of {final['modes']} modes covered, "
          f"JS divergence {final['js']:.3f}; wrote {', '.join(str(f) for f in files)}")
    return 0


# ---- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from .contract import Task

    parser = argparse.ArgumentParser(
        prog="python -m gan_studio",
        description="GAN Studio: generate, translate, colorize and upscale images with GAN generators.",
    )
    parser.add_argument("--version", action="version", version=f"gan_studio {__version__}")
    parser.add_argument("--no-watermark", action="store_true",
                        help="research use: write outputs without the invisible watermark (the provenance records it; "
                             "same as GAN_STUDIO_WATERMARK=0)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list the registered models")
    _common(p, device=False)
    p.add_argument("--task", choices=[t.value for t in Task], help="only models of this task")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("generate", help="generate images from a seed")
    _common(p, runtime=True)
    p.add_argument("--model", required=True, help="registry id, local model folder or Hub repo id")
    p.add_argument("--seed", type=int, default=0, help="seed of the first image; image i uses seed+i (default 0)")
    p.add_argument("-n", type=int, default=1, help="number of images (default 1)")
    p.add_argument("--label", help="class name or index, for conditional models (default: drawn from the seed)")
    p.add_argument("--truncation", type=float, help="truncation of the latent (e.g. 0.7); default none")
    p.add_argument("--steps", type=int, help="sampling steps of a diffusion model (default: the model's)")
    _style_options(p, transform=True)
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default 16)")
    p.add_argument("--cols", type=int, help="grid columns when n > 1")
    p.add_argument("--separate", action="store_true", help="write one file per image (OUT-<seed>.png)")
    p.add_argument("-o", "--output", required=True, help="output PNG (a grid when n > 1)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("interpolate", help="frames between two seeds, as a GIF or a PNG grid")
    _common(p, runtime=True)
    p.add_argument("--model", required=True, help="registry id, local model folder or Hub repo id")
    p.add_argument("--seed-a", type=int, required=True, help="start seed")
    p.add_argument("--seed-b", type=int, required=True, help="end seed")
    p.add_argument("--frames", type=int, default=16, help="number of frames, 2-240 (default 16)")
    p.add_argument("--label", help="class for conditional models")
    p.add_argument("--truncation", type=float, help="latent truncation")
    p.add_argument("--space", choices=["z", "w"], default="z",
                   help="interpolate in the latent z (great circle; default) or, for a StyleGAN, in W (straight line)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], help="a StyleGAN's noise inputs (with --space w)")
    p.add_argument("--duration", type=int, default=80, help="GIF frame duration in ms (default 80)")
    p.add_argument("-o", "--output", required=True, help="output .gif (animation) or .png (grid of frames)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("translate", help="translate a photo (CycleGAN/pix2pix, or StarGAN attributes)")
    _common(p, runtime=True)
    p.add_argument("--model", required=True, help="registry id, local model folder or Hub repo id")
    p.add_argument("input", help="input image (PNG, JPEG, WebP or GIF)")
    p.add_argument("--direction", help="direction for two-way translators, e.g. AtoB or BtoA (default: the first)")
    p.add_argument("--attributes", nargs="*", help="target attributes for multidomain (StarGAN) models")
    p.add_argument("--size", type=int, help="working size: short side in px (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed for models that keep dropout on (default 0)")
    p.add_argument("--full-res", action="store_true",
                   help="translate at the photo's own size in overlapping, seamlessly blended tiles "
                        "(--size is not used)")
    p.add_argument("--tile", type=int, default=None, metavar="N", help="tile size in px for --full-res (default 512)")
    p.add_argument("--overlap", type=int, default=None, metavar="N",
                   help="overlap between tiles in px for --full-res, at most half the tile (default 64)")
    p.add_argument("--norm-stats", choices=["thumbnail", "tile"], default=None,
                   help="--full-res: InstanceNorm-like layers use a thumbnail's statistics (default, consistent "
                        "tiles) or each tile's own")
    p.add_argument("--center-crop", action=argparse.BooleanOptionalAction, default=None,
                   help="crop the centred square first (default: the model's choice; AnimeGANv2 face styles crop)")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("colorize", help="colorize a black-and-white photo at full resolution")
    _common(p, runtime=True)
    p.add_argument("--model", default="photo-colorizer", help="colorization model (default photo-colorizer)")
    p.add_argument("input", help="input image")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, help="working size for the colour prediction (default: the model's, "
                      "e.g. 256 px short side for photo-colorizer)")
    size.add_argument("--render-factor", type=int, metavar="N",
                      help="working size as DeOldify's render_factor: a square of 16×N px (DeOldify's default 35)")
    p.add_argument("--strength", type=float, default=1.0,
                   help="colour strength: 0 = greyscale, 1 = the model's colours (default), >1 more saturated (max 3)")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_colorize)

    p = sub.add_parser(
        "pipe", help="run a short chain of image tasks on every image in a folder (recursive, structure kept)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run image tasks one after the other on every image under --input, writing each result "
                    "under --out at the same relative path (.png; an animated GIF gives a .gif, frame by frame). "
                    "Each step is a command with its own options, as one argument; '|' also separates steps. "
                    "Existing outputs are skipped (the run resumes), unless --overwrite. The output records "
                    "every step (python -m gan_studio info OUT).",
        epilog="examples:\n"
               "  python -m gan_studio pipe \"translate --model photo2sketch\" \"colorize\" --input photos --out done\n"
               "  python -m gan_studio pipe \"translate --model photo2sketch | colorize --strength 1.2\" "
               "--input photos --out done\n\n"
               f"steps: {', '.join(PIPE_STEPS)} (each takes its command's options; see COMMAND --help)")
    _common(p, runtime=True)
    p.add_argument("steps", nargs="+", metavar="STEP", help='a step, e.g. "translate --model photo2sketch"')
    p.add_argument("--input", required=True, help="a folder of images (searched recursively) or one image")
    p.add_argument("--out", required=True, help="the output folder (the input's sub-folders are kept)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: skip them)")
    p.set_defaults(func=cmd_pipe)


    p = sub.add_parser("upscale", help="enlarge images or whole folders with a super-resolution model (resumable)")
    _common(p, runtime=True)
    p.add_argument("--model", default="photo-upscaler-x4",
                   help="upscaling model (default photo-upscaler-x4, embedded; e.g. kornia/RealESRGAN_x4plus)")
    p.add_argument("inputs", nargs="+", metavar="IN", help="input images and/or folders (walked recursively)")
    p.add_argument("--scale", type=float, default=None,
                   help="output scale, any number from 0.25 to 16, e.g. 3.5 (default: the model's own, e.g. 4)")
    p.add_argument("--tile", type=int, default=None, metavar="N",
                   help="tile side in input px (default 256); smaller tiles use less memory")
    p.add_argument("-o", "--output", required=True,
                   help="output folder (structure of input folders kept), or a .png for a single input file")
    p.add_argument("--overwrite", action="store_true",
                   help="redo outputs that exist (default: skip complete ones, so an interrupted run resumes)")
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("style-mix", help="a StyleGAN's style-mixing grid: rows take chosen styles from columns")
    _common(p, runtime=True)
    p.add_argument("--model", required=True, help="a StyleGAN: registry id, local model folder or Hub repo id")
    p.add_argument("--rows", type=int, nargs="+", required=True, help="row seeds (their styles are the base), 1-8")
    p.add_argument("--cols", type=int, nargs="+", required=True, help="column seeds (they give the chosen styles), 1-8")
    p.add_argument("--layers", default="coarse", choices=["coarse", "middle", "fine", "all"],
                   help="the styles taken from the columns: coarse (4-8 px: pose, shape), middle (16-32 px: features), "
                        "fine (64 px and up: colours, texture) or all (default coarse)")
    p.add_argument("--label", help="class for conditional models")
    p.add_argument("--truncation", type=float, help="truncation psi towards the average style (default 1: none)")
    _style_options(p)
    p.add_argument("-o", "--output", required=True, help="output PNG (the grid, sources along the top and left)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_style_mix)

    p = sub.add_parser("project", help="project a photo into a StyleGAN's W / W+ (then edit it: directions --styles)")
    _common(p, runtime=True)
    p.add_argument("--model", required=True, help="a StyleGAN: registry id, local model folder or Hub repo id")
    p.add_argument("input", help="the photo (centre square, resized to the model's size)")
    p.add_argument("--steps", type=int, default=100, help="optimisation steps, 1-1000 (default 100)")
    p.add_argument("--space", choices=["w", "w+"], default="w",
                   help="w: one style for every layer (edits well; default); w+: one per layer (closer)")
    p.add_argument("--loss", choices=["auto", "perceptual", "pixel"], default="auto",
                   help="perceptual (VGG16 features, downloads ~530 MB once), pixel, or auto: perceptual when "
                        "the VGG16 file is already cached, else pixel (default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the optimisation's noise (default 0)")
    p.add_argument("-o", "--output", required=True, help="output PNG (the generator's image of the styles)")
    p.add_argument("--styles", help="where to save the styles (default: OUT.styles.safetensors)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("directions", help="a StyleGAN's semantic directions (SeFa, no training data): a preview "
                                          "strip per direction, or one edit with --amounts")
    _common(p, runtime=True)
    p.add_argument("--model", required=True, help="a StyleGAN: registry id, local model folder or Hub repo id")
    p.add_argument("--seed", type=int, default=0, help="the image to edit (default 0)")
    p.add_argument("-k", type=int, default=5, help="how many directions, strongest first (default 5, at most 16)")
    p.add_argument("--steps", type=int, default=5, help="images per direction in the preview, 3-11 (default 5)")
    p.add_argument("--max-amount", type=float, default=5.0, help="the preview goes from -this to +this (default 5)")
    p.add_argument("--amounts", type=float, nargs="+",
                   help="instead of a preview: move the image by these amounts along directions 1, 2, …")
    p.add_argument("--layers", default="all", choices=["coarse", "middle", "fine", "all"],
                   help="the style layers the directions are found for and applied to (default all)")
    p.add_argument("--styles", metavar="FILE", help="with --amounts: edit the styles `project` saved (your photo)")
    p.add_argument("--label", help="class for conditional models")
    p.add_argument("--truncation", type=float, help="truncation psi towards the average style (default 1: none)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], help="noise inputs (default: the stored ones)")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_directions)

    p = sub.add_parser("info", help="print the provenance stored in a PNG made by the studio")
    p.add_argument("file", help="a PNG written by gan_studio")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("verify", help="check images for the studio's Content Credentials, watermark and provenance "
                       "(exit 0 intact, 1 not identified, 2 tampered, 3 watermark only, 4 unreadable)")
    p.add_argument("files", nargs="+", metavar="FILE", help="images to check (any source; bad files are reported, not fatal)")
    p.add_argument("--json", action="store_true", help="print one JSON record per file (a JSON list)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("convert", help="turn a foreign checkpoint into a gan_studio model folder")
    p.add_argument("src", help="weight file: .safetensors, .pth/.pt/.bin/.ckpt (loaded weights-only), or an NVIDIA "
                             "StyleGAN network pickle .pkl (read by an allow-listed unpickler: no code from the "
                             "file runs; its G_ema, or --key G)")
    p.add_argument("out_dir", help="folder to write config.json + model.safetensors + README.md")
    p.add_argument("--architecture",
                   help="the layout of the weights (not needed for a .pkl): dcgan, conditional_dcgan, cyclegan_resnet "
                        "(presets resnet_6blocks, resnet_9blocks), pix2pix_unet (presets unet_128, unet_256), stargan, "
                        "colorization_unet, animegan2, huggan_pix2pix_unet, huggan_cyclegan_resnet, biggan_deep, stylegan2, "
                        "pggan, stylegan1 (genforce; --key generator_smooth), stylegan3")
    p.add_argument("--kwargs", help="constructor arguments as JSON, e.g. '{\"ngf\": 64}'")
    p.add_argument("--key", help="key holding the state dict inside the checkpoint (e.g. state_dict, G, g_ema)")
    p.add_argument("--task", help="task, if not the architecture's usual one")
    p.add_argument("--labels", nargs="*", help="class/attribute/domain names")
    p.add_argument("--image-size", type=int, help="native image size")
    p.add_argument("--license", default="unknown", help="licence of the weights (default unknown)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("train", help="train one of the embedded default models, or a GAN on your images (--data)")
    p.add_argument("recipe", nargs="?", help="digits-dcgan, digits-cgan, photo2sketch, digits-stargan, photo-colorizer, "
                                             "digits-diffusion, digits-wgan-gp, digits-progan, photo-upscaler-x4 (or leave out and give --data)")
    p.add_argument("--data", nargs="+", metavar="DIR_OR_ZIP",
                   help="train on your images: a folder, a zip or image files (sub-folders = classes), or 'digits'")
    p.add_argument("--arch", default="auto", help="with --data: auto, dcgan or conditional_dcgan (default auto)")
    p.add_argument("--size", type=int, default=32, help="with --data: image side, 32 or 64 (128, 256 on GPU)")
    p.add_argument("--loss", default="non-saturating",
                   help="with --data: minimax, non-saturating, least-squares, wgan-gp or hinge (default non-saturating)")
    p.add_argument("--batch-size", type=int, default=64, help="with --data: batch size (default 64)")
    p.add_argument("--diffaugment", default="auto", choices=["auto", "on", "off"],
                   help="with --data: DiffAugment (auto: on below 2,000 images)")
    p.add_argument("--no-ema", action="store_true", help="with --data: no EMA of the generator")
    p.add_argument("--grow", action="store_true", help="with --data: grow progressively (ProGAN, fade-in)")
    p.add_argument("--eval-every", type=int, default=250, help="with --data: steps between measurements")
    p.add_argument("--sample-every", type=int, default=50, help="with --data: steps between sample grids")
    p.add_argument("--out", required=True, help="output folder (resumes from its training state)")
    p.add_argument("--steps", type=int, help="training steps (default: the recipe's; 2000 with --data)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if a training state exists")
    p.add_argument("--device", default="auto", help="cpu or cuda (default: cpu unless given)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("compare", help="GAN vs diffusion: same class and seeds, time per image and quality numbers")
    _common(p, runtime=True)
    p.add_argument("--gan", default="digits-cgan", help="the GAN generator (default digits-cgan)")
    p.add_argument("--diffusion", default="digits-diffusion", help="the diffusion model (default digits-diffusion)")
    p.add_argument("--label", default="3", help="class name or index (default 3); 'random' draws one per seed")
    p.add_argument("--seed", type=int, default=0, help="seed of the first image; image i uses seed+i (default 0)")
    p.add_argument("-n", type=int, default=8, help="images per model, 1-32 (default 8)")
    p.add_argument("--steps", type=int, help="diffusion sampling steps (default: the model's)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs after a warm-up; the median is reported (default 3)")
    p.add_argument("--eval-n", type=int, default=200,
                   help="samples per model for the quality numbers (default 200; 0 skips them)")
    p.add_argument("--eval-seed", type=int, default=0, help="seed of the evaluation samples (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-o", "--output", help="also write the images as a PNG grid (row 1 GAN, row 2 diffusion)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("playground", help="the 2-D GAN playground, headless: writes the curves and a final plot")
    p.add_argument("--preset", default="stable", help="'mode collapse', stable, oscillation, wgan-gp or 'grid (hinge)' "
                                                      "(default stable); the options below override it")
    p.add_argument("--target", help="ring, grid, spiral, moons, line or custom (with --points)")
    p.add_argument("--points", help="a CSV of x,y points (the custom target)")
    p.add_argument("--loss", help="minimax, non-saturating, least-squares, wgan-gp or hinge")
    p.add_argument("--noise-dim", type=int, help="length of the noise vector")
    p.add_argument("--noise", help="normal or uniform")
    p.add_argument("--d-steps", type=int, help="discriminator steps per generator step")
    p.add_argument("--batch-size", type=int, help="batch size")
    p.add_argument("--g-lr", type=float, help="generator learning rate")
    p.add_argument("--d-lr", type=float, help="discriminator learning rate")
    p.add_argument("--metrics-every", type=int, help="steps between rows of the curves")
    p.add_argument("--steps", type=int, help="generator steps (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", required=True, help="folder for curves.csv, curves.json and final.png")
    p.add_argument("--filmstrip", type=int, default=0, metavar="K",
                   help="also write filmstrip.png: the plane at K evenly spaced steps (0-12, default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    p.set_defaults(func=cmd_playground)

    p = sub.add_parser("evaluate", help="score a model with the evaluation module, or compare image sets "
                       "(FID, KID, precision/recall)",
                       description="evaluate MODEL: the model's evaluation protocol and bars (its card's numbers). "
                       "evaluate --fid REAL_DIR FAKE_DIR, or --model M -n N --real DIR: FID and KID (torchmetrics), "
                       "precision/recall and density/coverage on the FID Inception features (downloaded once) or, "
                       "with --features digits, the studio's digit evaluator (not comparable with published FIDs).")
    _common(p, runtime=True)
    p.add_argument("model", nargs="?", help="registry id or local model folder (its evaluation protocol)")
    p.add_argument("-n", type=int, default=1000, help="samples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--fid", nargs=2, metavar=("REAL_DIR", "FAKE_DIR"), help="compare two image folders")
    p.add_argument("--model", dest="model_id", metavar="M", help="generate -n images with M and compare them with --real")
    p.add_argument("--real", metavar="DIR", help="folder of real images for --model")
    p.add_argument("--features", choices=("inception", "digits"), default="inception",
                   help="feature network (default inception: the standard FID Inception-v3, weights downloaded once)")
    p.add_argument("--kid-subset", type=int, default=1000, help="KID subset size (default 1000, capped at the set size)")
    p.add_argument("--no-download", action="store_true", help="never download the Inception weights")
    p.set_defaults(func=cmd_evaluate)

    from .datasets.command import add_dataset_parser  # synthetic datasets (gan_studio/datasets/)

    add_dataset_parser(sub, _common)
    return parser


def cmd_verify(args: argparse.Namespace) -> int:
    """``verify FILE...``: Content Credentials, watermark and provenance of each file; the most serious exit code."""
    from .credentials.verify import format_verification, verify_file

    results = [verify_file(f) for f in args.files]
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False, default=str))
    else:
        print("\n\n".join(format_verification(r) for r in results))
    severity = [2, 4, 1, 3, 0]  # tampered first, then unreadable, not identified, watermark only, intact
    return min((r.exit_code for r in results), key=severity.index)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--no-watermark" in argv:  # accepted anywhere on the line, not only before the command
        argv = ["--no-watermark"] + [a for a in argv if a != "--no-watermark"]
    args = parser.parse_args(argv)
    if getattr(args, "no_watermark", False):
        os.environ["GAN_STUDIO_WATERMARK"] = "0"
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (GanStudioError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug, not the user's fault: the traceback goes to the log with an id
        print(f"error: {report_internal_error(logger, args.command)}", file=sys.stderr)
        return 1
