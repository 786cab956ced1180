"""How models run: precision, memory format, ``torch.compile`` and threads.

A :class:`Runtime` is chosen once per :class:`~gan_studio.studio.Studio` (``--precision``,
``--channels-last``, ``--compile``, ``--threads`` on the command line) and applied to every model
it loads. The automatic choices are the ones the benchmark (``bench/benchmark.py --variants``)
measured to win on CPU with outputs within :data:`BF16_MIN_PSNR` of fp32 (docs/benchmarks.md):

* precision ``auto``: float16 weights on CUDA; on a CPU with native bfloat16 instructions
  (AVX512-BF16 or AMX) fp32 weights under ``torch.autocast(bfloat16)``; float32 otherwise.
* channels-last ``auto``: only for the (architecture, precision) pairs in
  :data:`CHANNELS_LAST_WINS`, measured on CPU; elsewhere it was slower. On a GPU ``on`` is
  available but not the default (not measured here).
* ``compile``: ``torch.compile`` on first use (tens of seconds per model and input shape on CPU),
  off by default; if compiling fails the model runs eagerly and a warning is logged. Models that
  keep dropout on at inference (pix2pix) stay eager, so their images do not change.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UserInputError

if TYPE_CHECKING:
    from .contract import Contract

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CHANNELS_LAST_CHOICES = ("auto", "on", "off")

# Outputs under bf16 autocast must stay at least this close to fp32 (PSNR of the 8-bit images, dB);
# tests/test_runtime.py checks every embedded model against it, the benchmark prints it per case.
BF16_MIN_PSNR = 35.0

# Where channels-last was faster on CPU (by more than the 5 % noise) in the benchmark's optimisation
# table (docs/benchmarks.md) is declared by each architecture (Contract.channels_last: the DCGAN-style
# transposed-convolution generators, AnimeGANv2 and the colorization U-Net in fp32 and bf16, the HugGAN
# U-Net under bf16); slower or no better for the ResNet translators, StarGAN and BigGAN. Never for a
# model that keeps dropout on at inference (pix2pix): its masks are drawn in memory order, so
# channels-last would change its images. A diffusion sampler declares auto_bf16=False: tens of network
# evaluations accumulate the rounding, so it stays in fp32 unless asked.


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (x86 AVX512-BF16 or AMX-BF16) that oneDNN uses."""
    try:
        import torch

        if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():  # type: ignore[no-untyped-call]  # unannotated in torch
            return False
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except (OSError, RuntimeError, AttributeError, ImportError):
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


@dataclass(frozen=True)
class Runtime:
    """The execution settings a studio applies to its models (all JSON-able).

    ``precision``: ``auto``, ``fp32``, ``bf16`` (autocast, fp32 weights) or ``fp16`` (fp16 weights,
    CUDA/MPS only). ``channels_last``: ``auto``, ``on`` or ``off``. ``compile``: wrap models in
    ``torch.compile``. ``threads``: ``torch.set_num_threads`` for the process (None: torch's default).
    """

    precision: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UserInputError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if self.channels_last not in CHANNELS_LAST_CHOICES:
            raise UserInputError(f"unknown channels-last setting {self.channels_last!r}; "
                             f"choose one of: {', '.join(CHANNELS_LAST_CHOICES)}")
        if self.threads is not None and self.threads < 1:
            raise UserInputError(f"threads must be at least 1, got {self.threads}")

    def check(self, device: Any) -> None:
        """Raise ``ValueError`` if this runtime cannot run on ``device``."""
        import torch

        if self.precision == "fp16" and torch.device(device).type == "cpu":
            raise UserInputError("precision 'fp16' needs a CUDA or MPS device; on CPU use 'bf16', 'fp32' or 'auto'")

    def precision_for(self, device: Any, contract: Contract) -> str:
        """The concrete precision (``fp32``, ``bf16`` or ``fp16``) for a model with ``contract`` on ``device``."""
        import torch

        if self.precision != "auto":
            return self.precision
        kind = torch.device(device).type
        if kind == "cuda":
            return "fp16"
        if kind == "cpu" and contract.auto_bf16 and cpu_has_native_bf16():
            return "bf16"
        return "fp32"

    def channels_last_for(self, device: Any, contract: Contract, precision: str) -> bool:
        """Whether a model with ``contract`` runs in channels-last memory format at ``precision``."""
        import torch

        if self.channels_last != "auto":
            return self.channels_last == "on"
        return torch.device(device).type == "cpu" and precision in contract.channels_last

    def apply_threads(self) -> None:
        """Set torch's intra-op thread count if ``threads`` is given (process-wide)."""
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)


def weight_dtype(precision: str) -> Any:
    """The dtype weights are stored in: fp16 for ``fp16``, fp32 otherwise (bf16 is autocast)."""
    import torch

    return torch.float16 if precision == "fp16" else torch.float32


@contextlib.contextmanager
def autocast_for(device: Any, precision: str) -> Iterator[None]:
    """``torch.autocast(bfloat16)`` on ``device`` for ``bf16``; nothing otherwise."""
    if precision != "bf16":
        yield
        return
    import torch

    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
        yield


def prepare_module(module: Any, contract: Contract, *, channels_last: bool, compile: bool,
                   name: str) -> tuple[Any, Any]:
    """``(module, compiled)``: ``module`` in the chosen memory format, and its ``torch.compile``
    wrapper (None when not compiling, when its contract says compiling would change its outputs, or
    when compiling is not available)."""
    import torch

    if channels_last:
        # What module.to(memory_format=channels_last) does, but for 4-D tensors only: it also tries 5-D
        # ones (a stack of per-head tables, say), which channels_last cannot hold.
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    compiled = None
    if compile and not contract.compile:
        # e.g. pix2pix keeps dropout on at inference; compiled code draws its own random numbers, so
        # its masks (and images) would differ from the eager module's for the same seed
        why = "it keeps dropout on at inference" if contract.stochastic else "its contract says compiling changes its outputs"
        logger.info("not compiling %s: %s (compiled code would draw other random numbers)", name, why)
    elif compile:
        try:
            compiled = torch.compile(module)
        except Exception as exc:  # noqa: BLE001 - compiling is an optimisation; eager still works
            logger.warning("torch.compile is not available for %s (%s: %s); running eagerly",
                           name, type(exc).__name__, exc)
    return module, compiled


def add_runtime_arguments(parser: Any) -> None:
    """The ``--precision``, ``--channels-last``, ``--compile`` and ``--threads`` options (app and CLI)."""
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="number format models run in: auto (fp16 on CUDA; bf16 autocast on a CPU with "
                             "bf16 instructions; else fp32; default), fp32, bf16 or fp16 (GPU only)")
    parser.add_argument("--channels-last", default="auto", choices=CHANNELS_LAST_CHOICES,
                        help="channels-last memory format: auto (where it measured faster on CPU; default), on, off")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile each model on first use (slow first call, faster after; off by default)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads per forward pass (default: torch's choice, the number of cores)")


def runtime_kwargs(args: Any) -> dict[str, Any]:
    """Studio keyword arguments from parsed :func:`add_runtime_arguments` options."""
    return {"precision": getattr(args, "precision", "auto"), "channels_last": getattr(args, "channels_last", "auto"),
            "compile": bool(getattr(args, "compile", False)), "threads": getattr(args, "threads", None)}
