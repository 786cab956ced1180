"""The base class of every generator: its declared contract, its config, and the Hub folder format.

An architecture subclasses :class:`Generator`, names itself (``architecture``), says which task it
usually does (``default_task``), and returns its :class:`~gan_studio.contract.Contract` from its
constructor arguments. The constructor arguments are the config: they are recorded when the module is
built, written to ``config.json`` by :meth:`Generator.save_pretrained`, and read back by
:meth:`Generator.from_pretrained`, which always loads weights strictly. A saved folder can be pushed
with :meth:`Generator.push_to_hub` and read back by the same ``from_pretrained`` call.

An architecture whose published weights live in a foreign folder format (diffusers) sets
``own_folder_format`` and overrides :meth:`Generator.recognises_config`, :meth:`Generator.complete_meta`,
:meth:`Generator.hub_files`, :meth:`Generator.load_folder` and :meth:`Generator.local_weights`;
nothing outside its file needs to know.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from ..contract import Contract, Task
from ..errors import CheckpointError
from ..folder import (
    CARD_NAME,
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelFolder,
    read_model_folder,
)

__all__ = ["Generator", "class_vector"]

G = TypeVar("G", bound="Generator")


class Generator(nn.Module):
    """A generator or image model with a declared contract and ``from_pretrained``/``save_pretrained``."""

    architecture: ClassVar[str] = ""  # its key in gan_studio.architectures.ARCHITECTURES
    default_task: ClassVar[Task]  # the task it usually does (a folder's _gan_studio block may say otherwise)
    # Whether its weights live in a folder format of its own (diffusers), loaded whole by
    # load_folder() rather than as a state dict through gan_studio.convert.
    own_folder_format: ClassVar[bool] = False
    # Whether it has a style space W the studio can mix and edit in (map()/synthesize()/style_affines()),
    # declared on the class so the UI can offer its tab before loading any weights.
    has_w_space: ClassVar[bool] = False
    # Whether semantic directions can be found in z instead (its first layer reads z: ProGAN).
    has_latent_directions: ClassVar[bool] = False
    # Whether the studio's warm-up runs it once at start (False for samplers of many network evaluations).
    warm_up: ClassVar[bool] = True

    _config: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: Generator, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self).__init__ is recording_init:  # the outermost constructor records the config
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self._config = {k: v for k, v in list(bound.arguments.items())[1:]}

        cls.__init__ = recording_init  # type: ignore[method-assign,assignment]  # wraps the subclass's own constructor

    # ---- the declaration ----------------------------------------------------------------------
    @property
    def contract(self) -> Contract:
        """How this model is called and what it tolerates (read by pipelines, runtime, UI and CLI)."""
        raise NotImplementedError(f"{type(self).__name__} does not declare its contract")

    # ---- the style space (architectures with has_w_space = True override these) ---------------
    def map(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
            truncation_cutoff: int | None = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] for z: the mapping network of a style-based generator."""
        raise NotImplementedError(f"{type(self).__name__} has no style space W")

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Images from ws [N, num_ws, w_dim]: the synthesis network of a style-based generator."""
        raise NotImplementedError(f"{type(self).__name__} has no style space W")

    @staticmethod
    def input_transform(translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
        """The [3, 3] input transform of a generator whose contract declares ``input_transform``."""
        raise NotImplementedError("this architecture has no input transform")

    def latent_affines(self) -> list[torch.Tensor]:
        """The weights [features, latent_dim] that read z directly (for SeFa in z, ProGAN)."""
        raise NotImplementedError(f"{type(self).__name__} has no latent directions")

    def style_affines(self) -> list[tuple[int, torch.Tensor]]:
        """``(ws index, style weight [channels, w_dim])`` of each modulated layer (for SeFa)."""
        raise NotImplementedError(f"{type(self).__name__} has no style space W")

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments this module was built with (JSON-able: ``config.json``)."""
        return dict(getattr(self, "_config", {}))

    # ---- foreign folder formats (overridden by architectures that have one) -------------------
    @classmethod
    def recognises_config(cls, config: Mapping[str, Any]) -> bool:
        """Whether a ``config.json`` without a ``_gan_studio`` architecture is this architecture's."""
        return False

    @classmethod
    def recognises_network_pickle(cls, class_name: str, submodule_classes: set[str]) -> bool:
        """Whether a network of an NVIDIA network pickle (its class name and the class names below
        it) is this architecture (see :mod:`gan_studio.network_pickle`)."""
        return False

    @classmethod
    def kwargs_from_network_pickle(cls, init_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """This architecture's constructor arguments from the init kwargs a network pickle recorded
        (override where the pickling code's signature differs from the constructor's)."""
        return dict(init_kwargs)

    @classmethod
    def read_weight_file(cls, path: str | os.PathLike[str]) -> Any:
        """What a weight file of this architecture's published layout holds, read without running code
        (:func:`gan_studio.weights.load_weight_file`; an architecture whose files need another allow-list,
        such as DeOldify's fastai pickles, overrides this)."""
        from ..weights import load_weight_file

        return load_weight_file(path)

    @classmethod
    def complete_meta(cls, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        """The studio metadata (task, labels, image size, channels …) of a folder of this architecture,
        completed from its config where the ``_gan_studio`` block leaves something out."""
        return {"architecture": cls.architecture, "task": cls.default_task.value, **meta}

    @classmethod
    def hub_files(cls, subfolder: str | None = None) -> tuple[str, ...]:
        """The files of a Hub repo a download of this architecture's folder needs."""
        prefix = f"{subfolder}/" if subfolder else ""
        return tuple(f"{prefix}{name}" for name in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME))

    @classmethod
    def load_folder(cls: type[G], path: Path) -> G:
        """Build the module from the local folder ``path`` and load its weights strictly."""
        return cls.from_folder(read_model_folder(path))

    @classmethod
    def local_weights(cls, path: Path) -> Path | None:
        """The weight file :meth:`load_folder` reads from ``path`` (its digest is the local revision)."""
        return read_model_folder(path).weights

    @classmethod
    def from_folder(cls: type[G], folder: ModelFolder) -> G:
        """Build the module from a local folder of our format and load its weights strictly."""
        from ..weights import extract_state_dict, load_strict, load_weight_file

        if folder.weights is None:
            raise CheckpointError(f"model folder {str(folder.path)!r} has no weight file")
        try:
            module = cls(**folder.kwargs)
        except TypeError as exc:
            raise CheckpointError(f"{folder.path / CONFIG_NAME}: not a {cls.__name__} config ({exc})") from None
        state = extract_state_dict(load_weight_file(folder.weights), source=folder.weights.name)
        load_strict(module, state, source=str(folder.weights))
        return module

    # ---- the Hub folder format ----------------------------------------------------------------
    @classmethod
    def from_pretrained(cls: type[G], source: str | os.PathLike[str], *, revision: str | None = None,
                        subfolder: str | None = None) -> G:
        """Load a saved folder (a local path or a Hub repo id) strictly, in eval mode.

        The folder's ``_gan_studio`` block must name this architecture (or none, for a foreign
        format this class recognises); downloads go through :mod:`gan_studio.hub`.
        """
        path = Path(os.path.expanduser(str(source)))
        if not path.is_dir():
            from .. import hub

            path = hub.download_snapshot(str(source), revision=revision, allow_patterns=list(cls.hub_files(subfolder)))
        if subfolder:
            path = path / subfolder
        if not cls.own_folder_format:
            named = read_model_folder(path).architecture
            if named not in (None, cls.architecture):
                raise CheckpointError(f"{str(path)!r} holds a {named!r} model, not {cls.architecture!r} ({cls.__name__})")
        module = cls.load_folder(path)
        module.eval()
        return module

    def save_pretrained(self, out_dir: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
                        card: str | None = None) -> Path:
        """Write ``config.json`` (the constructor arguments + a ``_gan_studio`` block with the
        architecture, the task, image size and channels its contract declares, and ``meta``),
        ``model.safetensors`` and, if given, the ``README.md`` card."""
        from ..weights import save_model_folder

        contract = self.contract
        declared: dict[str, Any] = {"task": contract.task.value, "channels": contract.out_channels}
        if contract.native_size:
            declared["image_size"] = contract.native_size
        meta = {**declared, **(dict(meta) if meta else {})}
        return save_model_folder(self, out_dir, architecture=self.architecture, kwargs=self.config, meta=meta,
                                 card=card)

    def push_to_hub(self, repo_id: str, *, token: str | None = None, private: bool = False,
                    meta: Mapping[str, Any] | None = None, card: str | None = None,
                    commit_message: str = "Upload with gan_studio") -> str:
        """Save to a temporary folder and upload it to the Hub repo ``repo_id`` (created if needed) with
        the caller's ``token`` (never stored). Returns the commit's URL."""
        import tempfile

        from .. import hub

        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(tmp, meta=meta, card=card)
            return hub.upload_folder(repo_id, tmp, token=token, private=private, commit_message=commit_message)


def class_vector(labels: torch.Tensor | None, num_classes: int, n: int, *, name: str,
                 size_name: str) -> torch.Tensor | None:
    """The class input [n, num_classes] of a class-conditional generator from int64 class indices
    (one-hot) or a float vector as given; None for an unconditional one. ``name`` and ``size_name``
    (the constructor argument holding ``num_classes``) go into the error messages."""
    import torch.nn.functional as F

    if num_classes == 0:
        if labels is not None:
            raise ValueError(f"this {name} is unconditional ({size_name}=0); it takes no labels")
        return None
    if labels is None:
        raise ValueError(f"this {name} is class-conditional ({num_classes} classes); pass labels")
    if not labels.dtype.is_floating_point:
        labels = labels.reshape(-1)
        if labels.shape[0] != n:
            raise ValueError(f"got {labels.shape[0]} labels for {n} latents")
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise ValueError(f"class labels must be in 0 … {num_classes - 1}, got {labels.tolist()}")
        return F.one_hot(labels.long(), num_classes).to(torch.float32)
    if labels.numel() != n * num_classes:
        raise ValueError(f"float labels must have shape ({n}, {num_classes}), got {tuple(labels.shape)}")
    return labels.reshape(n, num_classes).to(torch.float32)
