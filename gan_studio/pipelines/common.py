"""What every pipeline shares: results with provenance, seeded forward passes, batches that survive
running out of memory, the input's transparency carried over to the output (:func:`carries_alpha`),
and the input's own provenance kept as the output's chain of earlier steps (:func:`carries_chain`)."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from .._version import __version__
from ..contract import DEFAULT_WORKING_SIZE
from ..errors import OutOfMemory, UserInputError
from ..memory import free_accelerator_memory, is_out_of_memory
from ..models import LoadedModel
from ..registry import ModelSpec

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "ALPHA_BACKGROUND",
    "OutOfMemory",
    "ProgressFn",
    "Result",
    "attach_alpha",
    "carries_alpha",
    "carries_chain",
    "chain_from_input",
    "provenance",
    "report",
    "run_batches",
    "seeded",
    "working_size_for",
]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
P = ParamSpec("P")

#: What the model sees under transparent pixels: an image with alpha is composited onto this
#: colour (white) before it runs, and fully transparent output pixels are set to it.
ALPHA_BACKGROUND = (255, 255, 255)


@dataclass
class Result:
    """One output image and the parameters that reproduce it (written into the PNG)."""

    image: Image.Image
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # What the model was fed, as an image at the output's size (the crop, the working-size resize,
    # the luminance a colorizer sees): the "before" of a before/after view. None for generators.
    # An input with transparency gives it the same alpha as the output (see carries_alpha).
    source: Image.Image | None = None
    # The (left, top, right, bottom) box of the input image the output shows, when the pipeline
    # cropped it (a centre crop); None: the whole input. Used to fit the input's alpha to the output.
    region: tuple[int, int, int, int] | None = None

    def png_bytes(self) -> bytes:
        from ..metadata import png_bytes

        return png_bytes(self.image, self.params)


def provenance(loaded: LoadedModel, **params: Any) -> dict[str, Any]:
    """The provenance block: model, revision, task, software, plus the call's parameters."""
    out: dict[str, Any] = {
        "model": loaded.spec.id,
        "revision": loaded.revision,
        "task": loaded.spec.task.value,
        "architecture": loaded.architecture,
    }
    if loaded.variant:
        out["variant"] = loaded.variant
    if loaded.precision != "fp32":  # outputs differ slightly from fp32: reproducing needs the same precision
        out["precision"] = loaded.precision
    out.update({k: v for k, v in params.items() if v is not None})
    out["software"] = f"gan_studio {__version__}"
    out["ai_generated"] = True
    return out


def attach_alpha(result: Result, alpha: Image.Image) -> Result:
    """Give ``result`` the input's ``alpha`` (mode ``L``, the input's size): returns it with
    ``image`` ``RGBA`` (``LA`` for one-channel outputs), ``source`` likewise, and the provenance
    saying so.

    The alpha is cut to ``result.region`` when the pipeline cropped, then resized (Lanczos, as
    :func:`gan_studio.image_io.resize` resizes images) to the output's size where that differs.
    Fully transparent pixels get :data:`ALPHA_BACKGROUND` (what the model saw there); see
    :func:`gan_studio.image_io.join_alpha`.
    """
    from ..image_io import join_alpha, resize

    cut = alpha if result.region is None else alpha.crop(result.region)

    def fitted(size: tuple[int, int]) -> Image.Image:
        return cut if cut.size == size else resize(cut, size)

    result.image = join_alpha(result.image, fitted(result.image.size), background=ALPHA_BACKGROUND)
    if result.source is not None:
        result.source = join_alpha(result.source, fitted(result.source.size), background=ALPHA_BACKGROUND)
    result.params["alpha"] = "carried over from the input"
    result.params["alpha_background"] = "white"
    result.notes.append("transparency kept: the model saw the image composited onto white; the output has the "
                        "input's alpha")
    return result


def carries_alpha(
    fn: Callable[Concatenate[LoadedModel, Any, P], Result],
) -> Callable[Concatenate[LoadedModel, Any, P], Result]:
    """Decorate an image pipeline ``fn(loaded, image, ...) -> Result`` so an input with transparency
    keeps it.

    The input's alpha is split off (:func:`gan_studio.image_io.split_alpha`); ``fn`` runs
    unchanged on the image composited onto white (:data:`ALPHA_BACKGROUND`), and the alpha is put
    back on the output by :func:`attach_alpha`. An input without transparency (any mode without an
    alpha band, or a fully opaque one) reaches ``fn`` untouched, so its output is what it always was.
    """

    @functools.wraps(fn)
    def wrapper(loaded: LoadedModel, image: Any, /, *args: P.args, **kwargs: P.kwargs) -> Result:
        from PIL import Image

        from ..image_io import split_alpha

        if not isinstance(image, Image.Image):
            return fn(loaded, image, *args, **kwargs)
        rgb, alpha = split_alpha(image, background=ALPHA_BACKGROUND)
        result = fn(loaded, rgb, *args, **kwargs)
        result = result if alpha is None else attach_alpha(result, alpha)
        return chain_from_input(result, image)  # every image task that carries alpha carries the chain too

    return wrapper


def chain_from_input(result: Result, image: Any) -> Result:
    """Give ``result`` the steps that made ``image``: when the input carried studio provenance (a
    studio PNG or GIF sent on to another task; :func:`gan_studio.metadata.image_provenance`), the
    result's provenance gets a ``chain`` of those steps, oldest first (:func:`gan_studio.metadata.with_chain`).
    A result that already has a chain, or an input without provenance, is returned unchanged."""
    from ..metadata import CHAIN_KEY, image_provenance, with_chain

    previous = image_provenance(image)
    if previous is None or CHAIN_KEY in result.params:
        return result
    result.params = with_chain(result.params, previous)
    result.notes.append(f"provenance: {len(result.params[CHAIN_KEY])} earlier step(s) of this image kept")
    return result


def carries_chain(
    fn: Callable[Concatenate[LoadedModel, Any, P], Result],
) -> Callable[Concatenate[LoadedModel, Any, P], Result]:
    """Decorate an image pipeline ``fn(loaded, image, ...) -> Result`` so its result records the
    input's studio provenance as earlier steps (:func:`chain_from_input`). :func:`carries_alpha`
    already does this; use it for an image pipeline that handles transparency itself."""

    @functools.wraps(fn)
    def wrapper(loaded: LoadedModel, image: Any, /, *args: P.args, **kwargs: P.kwargs) -> Result:
        return chain_from_input(fn(loaded, image, *args, **kwargs), image)

    return wrapper


@contextlib.contextmanager
def seeded(seed: int, device: Any) -> Iterator[None]:
    """Run a block with torch's global RNG seeded (for dropout kept on at inference) and restore it."""
    import torch

    devices = [device] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        if devices:
            torch.cuda.manual_seed_all(int(seed))
        yield


def working_size_for(loaded: LoadedModel | ModelSpec, requested: int | None = None) -> int:
    """The short side an image model works at: the request, else the model's ``working_size``
    (catalogue ``preprocess``), else its registered image size, else the native size its architecture
    declares (for a loaded model), else :data:`~gan_studio.contract.DEFAULT_WORKING_SIZE`."""
    if requested is not None:
        if requested < 8:
            raise UserInputError(f"working size must be at least 8 px, got {requested}")
        return int(requested)
    if isinstance(loaded, LoadedModel):
        spec, native = loaded.spec, loaded.contract.native_size
    else:
        spec, native = loaded, 0
    return int(spec.preprocess.get("working_size") or spec.image_size or native or DEFAULT_WORKING_SIZE)


def report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)


def run_batches(run: Callable[[list[Any]], list[Any]], items: list[Any], batch_size: int, *,
                what: str = "images") -> Iterator[list[Any]]:
    """Yield ``run(chunk)`` over ``items`` in chunks of ``batch_size``; on out-of-memory, free the
    cache and retry that chunk once at half the batch (down to 1), then give up with a clear error."""
    start = 0
    size = max(1, batch_size)
    retried = False
    while start < len(items):
        chunk = items[start:start + size]
        try:
            out = run(chunk)
        except Exception as exc:  # only out-of-memory is handled here
            if not is_out_of_memory(exc):
                raise
            free_accelerator_memory()
            if retried or len(chunk) == 1:
                raise OutOfMemory(
                    f"out of memory on the device while generating {len(chunk)} {what} at once"
                    f"{' (also after retrying at a smaller batch)' if retried else ''}; "
                    f"ask for fewer or smaller {what}"
                ) from None
            size = max(1, len(chunk) // 2)  # half the batch that failed (n may be below batch_size)
            retried = True
            logger.warning("out of memory at batch %d; retrying at batch %d", len(chunk), size)
            continue
        start += len(chunk)
        yield out
