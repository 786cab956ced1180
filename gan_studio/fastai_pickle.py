"""Reading fastai v1 checkpoints (``learn.save`` ``.pth`` files, e.g. DeOldify's ``_gen.pth``) as
weights only, through an explicit allow-list.

fastai's ``Learner.save`` writes ``torch.save({'model': state_dict, 'opt': optimizer.state_dict()})``
(or the bare state dict with ``with_opt=False``). Its optimizer state carries the learning rate fastai
set, which is a ``slice`` when the optimizer was created from ``defaults.lr`` and never stepped, so the
pickle references ``builtins.slice``, which torch's weights-only loader refuses. Rather than load such
files with full unpickling (which runs whatever the file names), this module:

1. scans every pickle in the file (the legacy ``torch.save`` format's five leading pickles, or the
   zip format's ``data.pkl``, told apart by the first bytes as ``torch.load`` does) with :mod:`pickletools`, without building anything, and refuses any
   global outside :data:`ALLOWED_GLOBALS` by name, any extension-registry opcode and any
   ``STACK_GLOBAL`` whose name is not a literal;
2. then loads the file with ``torch.load(weights_only=True)``, torch's own restricted unpickler (tensors
   and storages rebuilt by torch), with ``slice`` as the one class added to its list for that call.

A file cut short, or otherwise unreadable, is a :class:`~gan_studio.errors.CheckpointError` naming it.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import IO, Any

from .errors import CheckpointError

__all__ = ["ALLOWED_GLOBALS", "MAX_CHECKPOINT_BYTES", "load_fastai_checkpoint", "scan_globals"]

MAX_CHECKPOINT_BYTES = 2 << 30  # 2 GiB: DeOldify's Stable generator is 874 MB
_STORAGES = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
# Every global a fastai checkpoint may name: the state dict's OrderedDict, the optimizer's slice
# learning rates, torch's tensor rebuilders and the (legacy, typed) storage classes.
ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {"collections.OrderedDict", "builtins.slice", "torch._utils._rebuild_tensor_v2",
     "torch._utils._rebuild_parameter"} | {f"torch.{kind}Storage" for kind in _STORAGES}
)
_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_PICKLES = 5  # magic number, protocol, sys info, the object, the storage keys; raw data follows
# Python 2 names a protocol-2 pickle uses (the unpickler maps them the same way)
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
                         "SHORT_BINSTRING"})
_NO_PUSH_OPS = frozenset({"FRAME", "PROTO", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"})


def _refuse(source: str, name: str) -> CheckpointError:
    return CheckpointError(
        f"{source}: refused global {name}; a fastai checkpoint may only reference "
        f"{', '.join(sorted(ALLOWED_GLOBALS - {f'torch.{k}Storage' for k in _STORAGES}))} and torch's "
        f"storage classes (nothing is imported or run from the file)"
    )


def _scan_one(stream: IO[bytes], source: str, found: set[str]) -> None:
    """Scan one pickle (up to its STOP), adding the globals it names to ``found``; refuse what is not allowed."""
    memo: dict[Any, str | None] = {}
    recent: list[str | None] = [None, None]  # the last two values pushed, where they are literal strings
    for op, arg, _pos in pickletools.genops(stream):
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            qualified = f"{_PY2_MODULES.get(module, module)}.{attr}"
        elif name == "STACK_GLOBAL":
            module_name, attr_name = recent[-2], recent[-1]
            if module_name is None or attr_name is None:
                raise CheckpointError(f"{source}: refused a STACK_GLOBAL whose name is computed, not a literal")
            qualified = f"{_PY2_MODULES.get(module_name, module_name)}.{attr_name}"
        elif name in ("EXT1", "EXT2", "EXT4"):
            raise CheckpointError(f"{source}: refused the pickle extension registry (opcode {name})")
        else:
            qualified = ""
        if qualified:
            if qualified not in ALLOWED_GLOBALS:
                raise _refuse(source, qualified)
            found.add(qualified)
        if name in _STRING_OPS:
            recent.append(arg.decode("latin-1") if isinstance(arg, bytes) else str(arg))
        elif name == "MEMOIZE":
            memo[len(memo)] = recent[-1]
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = recent[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            recent.append(memo.get(arg))
        elif name not in _NO_PUSH_OPS:
            recent.append(None)
        del recent[:-2]


def scan_globals(path: str | os.PathLike[str]) -> set[str]:
    """The globals the pickles of a ``torch.save`` file name, all of them in :data:`ALLOWED_GLOBALS`;
    :class:`~gan_studio.errors.CheckpointError` naming the first one that is not (nothing is built)."""
    path = Path(path)
    found: set[str] = set()
    try:
        with path.open("rb") as f:
            is_zip = f.read(4) == _ZIP_MAGIC  # torch.load's own test: a zip file starts with a local header
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith(".pkl")]
                if not any(n.endswith("data.pkl") for n in pickles):
                    raise CheckpointError(f"{path.name}: a zip file without a torch.save data.pkl")
                for member in pickles:
                    with archive.open(member) as f:
                        _scan_one(io.BytesIO(f.read()), path.name, found)
        else:
            with path.open("rb") as f:
                for _ in range(_LEGACY_PICKLES):
                    _scan_one(f, path.name, found)
    except CheckpointError:
        raise
    except (ValueError, EOFError, zipfile.BadZipFile, OSError, KeyError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path.name}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
    return found


def load_fastai_checkpoint(path: str | os.PathLike[str]) -> Any:
    """What a fastai ``.pth`` file holds (``{'model': state_dict, 'opt': …}`` or a state dict), read
    weights-only after :func:`scan_globals` has checked every global it names."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weight file {str(path)!r} does not exist")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path.name}: {size / 2**30:.1f} GiB is larger than any fastai checkpoint we read")
    scan_globals(path)
    try:
        with torch.serialization.safe_globals([slice]):  # fastai's learning rates; data, not code
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path.name}: refused by the weights-only loader [{first}]") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, KeyError, IndexError, TypeError) as exc:
        raise CheckpointError(f"{path.name}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
