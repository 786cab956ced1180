"""What every pipeline shares: results with provenance, seeded forward passes, size rules."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..models import LoadedModel

ProgressFn = Callable[[float, str], None]


@dataclass
class Result:
    """One output image and the parameters that reproduce it (written into the PNG)."""

    image: Any  # PIL.Image.Image
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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


def size_multiple(loaded: LoadedModel) -> int:
    """Input sides must be a multiple of this for the architecture to give back the same size."""
    own = getattr(loaded.module, "size_multiple", None)
    if isinstance(own, int) and own > 0:
        return own
    kw = loaded.kwargs
    arch = loaded.architecture
    if arch == "pix2pix_unet":
        return 2 ** int(kw.get("num_downs", 8))
    if arch == "colorization_unet":
        return 2 ** int(kw.get("depth", 4))
    if arch in ("cyclegan_resnet", "stargan"):
        return 4
    return 1


def report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)
