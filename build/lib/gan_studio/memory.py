"""Memory: recognising out-of-memory errors and giving memory back (accelerator cache, heap pages).

The one place that knows what an out-of-memory error looks like; the model cache, the pipelines
and the batcher all ask here.
"""

from __future__ import annotations

import ctypes
import gc
import sys

__all__ = ["free_accelerator_memory", "is_out_of_memory", "release_memory"]


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or allocator) out-of-memory error."""
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t is not None)
    if oom_types and isinstance(exc, oom_types):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Collect garbage and empty the CUDA cache (after an out-of-memory error, before a retry)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def release_memory() -> None:
    """Free what evicted models held: Python garbage, the CUDA cache, and (glibc) the heap pages
    malloc keeps for reuse, so the process's resident memory really goes down."""
    try:
        free_accelerator_memory()
    except ImportError:  # pragma: no cover - torch is a dependency
        gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            pass
