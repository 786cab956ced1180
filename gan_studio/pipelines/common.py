"""What every pipeline shares: results with provenance, seeded forward passes, batches that survive
running out of memory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..contract import DEFAULT_WORKING_SIZE
from ..errors import OutOfMemory, UserInputError
from ..memory import free_accelerator_memory, is_out_of_memory
from ..models import LoadedModel
from ..registry import ModelSpec

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["OutOfMemory", "ProgressFn", "Result", "provenance", "report", "run_batches", "seeded", "working_size_for"]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]


@dataclass
class Result:
    """One output image and the parameters that reproduce it (written into the PNG)."""

    image: Image.Image
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # What the model was fed, as an image at the output's size (the crop, the working-size resize,
    # the luminance a colorizer sees): the "before" of a before/after view. None for generators.
    source: Image.Image | None = None

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
