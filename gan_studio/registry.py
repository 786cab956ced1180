"""The model registry: :class:`ModelSpec` entries read from explicit TOML data.

The built-in catalogue is ``gan_studio/catalogue.toml``; users add entries in the same format with
``--models FILE`` (see the README). An entry either points at a local model folder (``path``, whose
``config.json`` fills in whatever the entry leaves out) or at a Hub repo (``hub``, ``revision``,
``files``). Anywhere a model id is accepted, a local folder with ``config.json`` +
``model.safetensors`` or a Hub repo id whose ``config.json`` names a known architecture is
accepted too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .contract import Task
from .errors import CatalogueError, UnknownModelError
from .paths import DATA_ROOT, PACKAGE_DIR

logger = logging.getLogger(__name__)

REPO_ROOT = DATA_ROOT  # catalogue paths are relative to the folder holding checkpoints/
CATALOGUE_FILE = PACKAGE_DIR / "catalogue.toml"
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")



@dataclass(frozen=True)
class Source:
    """Where a generator's weights come from: a local folder or files in a Hub repo."""

    path: str | None = None  # local model folder (absolute once resolved)
    repo_id: str | None = None  # Hub repo id, "owner/name"
    revision: str | None = None  # branch, tag or commit; None = "main"
    files: tuple[str, ...] = ()  # weight files to try in order (safetensors first); Hub or local
    subfolder: str | None = None  # inside the repo/folder
    key: str | None = None  # where the state dict sits inside a pickle-based checkpoint

    @property
    def is_hub(self) -> bool:
        return self.repo_id is not None

    def describe(self) -> str:
        if self.is_hub:
            rev = f"@{self.revision}" if self.revision else ""
            sub = f"/{self.subfolder}" if self.subfolder else ""
            return f"hub:{self.repo_id}{rev}{sub}"
        return f"local:{self.path}"


@dataclass(frozen=True)
class ModelSpec:
    """One registered model. ``kwargs`` are the architecture's constructor arguments (the config)."""

    id: str  # "digits-dcgan", or a Hub repo id
    task: Task  # what the studio can do with it
    architecture: str  # key into gan_studio.architectures.ARCHITECTURES (or a preset)
    kwargs: dict[str, Any]  # constructor arguments = the config
    source: Source  # the default weights
    image_size: int = 0  # native resolution (square side), 0 if any
    channels: int = 3  # image channels the model produces
    labels: tuple[str, ...] = ()  # class names / attribute names / domain names (A, B)
    exclusive: tuple[tuple[str, ...], ...] = ()  # mutually exclusive attribute groups (StarGAN)
    variants: dict[str, Source] = field(default_factory=dict)  # e.g. {"AtoB": …, "BtoA": …}
    variant_labels: dict[str, str] = field(default_factory=dict)  # "AtoB" -> "photo → sketch"
    preprocess: dict[str, Any] = field(default_factory=dict)  # e.g. {"center_crop": 178, "resize": 128}
    license: str = "unknown"
    description: str = ""
    card: str | None = None  # path to the model card (README.md), if local
    builtin: bool = False  # from the built-in catalogue
    # device types ("cpu", "cuda", "mps") on which this Hub model is its job's default when the Hub
    # is reachable (e.g. DDColor-T on a CPU, DDColor-L on a GPU); the embedded model otherwise
    online_default: tuple[str, ...] = ()

    @property
    def default_variant(self) -> str | None:
        return next(iter(self.variants), None)

    def source_for(self, variant: str | None) -> Source:
        """The weights of ``variant`` (a direction or style), or the default ones."""
        if not self.variants:
            if variant not in (None, ""):
                raise UnknownModelError(f"model {self.id!r} has no variants; got variant {variant!r}")
            return self.source
        if variant is None or variant == "":
            variant = self.default_variant or ""  # not None: there are variants
        try:
            return self.variants[variant]
        except KeyError:
            raise UnknownModelError(
                f"model {self.id!r} has no variant {variant!r}; choose one of: {', '.join(self.variants)}"
            ) from None

    def summary(self) -> dict[str, Any]:
        """A JSON-able one-row description (for tables and `models --json`)."""
        return {
            "id": self.id,
            "task": self.task.value,
            "architecture": self.architecture,
            "source": self.source.describe() if not self.variants else ", ".join(
                f"{k}={v.describe()}" for k, v in self.variants.items()
            ),
            "image_size": self.image_size,
            "channels": self.channels,
            "labels": list(self.labels),
            "variants": list(self.variants),
            "license": self.license,
            "description": self.description,
        }


def folder_meta(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(kwargs, studio meta)`` of a local model folder, read by :func:`gan_studio.folder.read_model_folder`;
    a foreign config (no ``_gan_studio`` architecture, e.g. a diffusers UNet) is described by the
    architecture that recognises it."""
    from .folder import read_model_folder

    info = read_model_folder(folder)
    return info.kwargs, config_meta(info.config, info.meta)


def config_meta(config: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The studio meta of a config: its ``_gan_studio`` block when that names the architecture and the
    task (no torch needed), else what the architecture that recognises the config makes of it."""
    if meta.get("architecture") and meta.get("task"):
        return meta
    from .architectures import recognise_config, task_of_architecture

    recognised = recognise_config(config)
    if recognised is not None:
        return recognised[1]
    if meta.get("architecture"):
        return {**meta, "task": task_of_architecture(str(meta["architecture"])).value}
    return meta


def _as_tuple_of_str(value: Any, *, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{where}'{name}' must be a list of strings, got {value!r}")
    return tuple(value)


ENTRY_KEYS = {
    "id", "task", "architecture", "kwargs", "path", "hub", "revision", "files", "subfolder", "key",
    "image_size", "channels", "labels", "exclusive", "variants", "preprocess", "license", "description",
    "online_default",
}
VARIANT_KEYS = {"path", "hub", "revision", "files", "subfolder", "key", "label"}


def _source_from(entry: dict[str, Any], *, base: Path, where: str, inherit: Source | None = None) -> Source:
    path = entry.get("path")
    hub = entry.get("hub")
    files = entry.get("files")
    if path is not None and hub is not None:
        raise CatalogueError(f"{where}give either 'path' or 'hub', not both")
    if path is None and hub is None and inherit is not None:
        # A variant that only names a subfolder/file of the model's own source.
        return replace(
            inherit,
            subfolder=entry.get("subfolder", inherit.subfolder),
            files=tuple(files) if files is not None else inherit.files,
            key=entry.get("key", inherit.key),
        )
    if path is None and hub is None:
        raise CatalogueError(f"{where}needs 'path' (a local model folder) or 'hub' (a Hub repo id)")
    if hub is not None and not HUB_ID_RE.match(str(hub)):
        raise CatalogueError(f"{where}'hub' must look like 'owner/name', got {hub!r}")
    if path is not None:
        resolved = Path(os.path.expanduser(str(path)))
        if not resolved.is_absolute():
            resolved = (base / resolved).resolve()
        path = str(resolved)
    return Source(
        path=path,
        repo_id=hub,
        revision=entry.get("revision"),
        files=_as_tuple_of_str(files, where=where, name="files"),
        subfolder=entry.get("subfolder"),
        key=entry.get("key"),
    )


def spec_from_entry(entry: dict[str, Any], *, base: Path, origin: str, builtin: bool = False) -> ModelSpec:
    """Build a :class:`ModelSpec` from one ``[[model]]`` TOML table (``base`` resolves relative paths)."""
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise CatalogueError(f"{origin}: every [[model]] needs a string 'id'")
    where = f"{origin}: model {model_id!r}: "
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise CatalogueError(f"{where}unknown keys {sorted(unknown)}; valid keys: {', '.join(sorted(ENTRY_KEYS))}")
    source = _source_from(entry, base=base, where=where)

    variants: dict[str, Source] = {}
    variant_labels: dict[str, str] = {}
    raw_variants = entry.get("variants") or {}
    if not isinstance(raw_variants, dict):
        raise CatalogueError(f"{where}'variants' must be a table of tables")
    for name, ventry in raw_variants.items():
        if not isinstance(ventry, dict) or set(ventry) - VARIANT_KEYS:
            raise CatalogueError(f"{where}variant {name!r} may only have keys {sorted(VARIANT_KEYS)}")
        variants[name] = _source_from(ventry, base=base, where=f"{where}variant {name!r}: ", inherit=source)
        if "label" in ventry:
            variant_labels[name] = str(ventry["label"])

    # A local folder's config.json fills in what the entry leaves out.
    kwargs: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    card = None
    for candidate in [source, *variants.values()]:
        folder = Path(candidate.path or "") / (candidate.subfolder or "")
        if not candidate.is_hub and candidate.path and (folder / "config.json").is_file():
            kwargs, meta = folder_meta(folder)
            break
    for candidate in [source, *variants.values()]:
        readme = Path(candidate.path or "") / (candidate.subfolder or "") / "README.md"
        if not candidate.is_hub and candidate.path and readme.is_file():
            card = str(readme)
            break

    task_value = entry.get("task", meta.get("task"))
    architecture = entry.get("architecture", meta.get("architecture"))
    if task_value is None or architecture is None:
        raise CatalogueError(f"{where}needs 'task' and 'architecture' (or a local folder whose config.json has them)")
    task = Task.parse(str(task_value), where=where)
    kwargs = dict(entry.get("kwargs", kwargs))
    exclusive_raw = entry.get("exclusive", meta.get("exclusive", [])) or []
    exclusive = tuple(_as_tuple_of_str(g, where=where, name="exclusive") for g in exclusive_raw)
    labels = _as_tuple_of_str(entry.get("labels", meta.get("labels")), where=where, name="labels")
    for group in exclusive:
        stray = set(group) - set(labels)
        if stray:
            raise CatalogueError(f"{where}exclusive group {list(group)} names unknown labels {sorted(stray)}")
    return ModelSpec(
        id=model_id,
        task=task,
        architecture=str(architecture),
        kwargs=kwargs,
        source=source,
        image_size=int(entry.get("image_size", meta.get("image_size", 0)) or 0),
        channels=int(entry.get("channels", meta.get("channels", 3)) or 3),
        labels=labels,
        exclusive=exclusive,
        variants=variants,
        variant_labels=variant_labels,
        preprocess=dict(entry.get("preprocess", meta.get("preprocess", {})) or {}),
        license=str(entry.get("license", meta.get("license", "unknown"))),
        description=str(entry.get("description", meta.get("description", ""))),
        card=card,
        builtin=builtin,
        online_default=_online_default(entry.get("online_default"), where=where),
    )


ONLINE_DEFAULT_DEVICES = ("cpu", "cuda", "mps")


def _online_default(value: Any, *, where: str) -> tuple[str, ...]:
    devices = _as_tuple_of_str(value, where=where, name="online_default")
    stray = sorted(set(devices) - set(ONLINE_DEFAULT_DEVICES))
    if stray:
        raise CatalogueError(f"{where}online_default names unknown device types {stray}; "
                             f"choose from: {', '.join(ONLINE_DEFAULT_DEVICES)}")
    return devices


def read_catalogue(path: str | os.PathLike[str], *, builtin: bool = False) -> list[ModelSpec]:
    """Read a catalogue TOML file (``[[model]]`` tables)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"models file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"models file {str(path)!r} is not valid TOML: {exc}") from None
    unknown = set(data) - {"model"}
    if unknown:
        raise CatalogueError(f"{path}: unknown top-level keys {sorted(unknown)}; entries go in [[model]] tables")
    entries = data.get("model", [])
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: 'model' must be an array of tables ([[model]])")
    base = REPO_ROOT if builtin else path.resolve().parent
    specs = [spec_from_entry(e, base=base, origin=path.name, builtin=builtin) for e in entries]
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise CatalogueError(f"{path}: model id {spec.id!r} appears twice")
        seen.add(spec.id)
    return specs


def spec_from_folder(folder: str | os.PathLike[str], *, model_id: str | None = None) -> ModelSpec:
    """A spec for a local model folder (``config.json`` + weights, or ``AtoB/`` + ``BtoA/`` subfolders)."""
    folder = Path(folder).resolve()
    entry: dict[str, Any] = {"id": model_id or str(folder), "path": str(folder)}
    if not (folder / "config.json").is_file():
        subs = sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file()) if folder.is_dir() else []
        if not subs:
            raise UnknownModelError(f"{str(folder)!r} is not a model folder: it has no config.json")
        entry["variants"] = {name: {"subfolder": name} for name in subs}
    return spec_from_entry(entry, base=folder, origin=str(folder))


def spec_from_hub_config(repo_id: str, config: dict[str, Any], *, revision: str | None, architecture: str | None) -> ModelSpec:
    """A spec for an uncatalogued Hub repo from its downloaded ``config.json`` (ours, or a diffusers
    ``UNet2DModel`` config such as ``google/ddpm-cifar10-32``'s)."""
    from .folder import split_config

    kwargs, meta = split_config(config, where=f"{repo_id}: config.json")
    meta = config_meta(config, meta)
    arch = architecture or meta.get("architecture")
    if arch is None:
        raise UnknownModelError(
            f"Hub repo {repo_id!r} is not in the catalogue and its config.json names no gan_studio architecture; "
            f"name one with --architecture (see `python -m gan_studio convert --help` for the choices)"
        )
    entry = {
        "id": repo_id,
        "hub": repo_id,
        "revision": revision,
        "architecture": arch,
        "task": meta.get("task") or _usual_task(str(arch)),
        "kwargs": kwargs,
    }
    for name in ("image_size", "channels", "labels", "exclusive", "preprocess", "license", "description"):
        if name in meta:
            entry[name] = meta[name]
    if entry["task"] is None:
        raise UnknownModelError(f"Hub repo {repo_id!r}: its config.json does not say which task the model does")
    return spec_from_entry({k: v for k, v in entry.items() if v is not None}, base=REPO_ROOT, origin=repo_id)


def _usual_task(architecture: str) -> str | None:
    from .architectures import task_of_architecture
    from .errors import UnknownArchitectureError

    try:
        return task_of_architecture(architecture).value
    except UnknownArchitectureError:
        return None


class Registry:
    """An ordered set of :class:`ModelSpec` with id resolution."""

    def __init__(self, specs: list[ModelSpec]) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            self._specs[spec.id] = spec  # user entries may override built-ins

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def ids(self) -> list[str]:
        return list(self._specs)

    def list(self, task: str | Task | None = None) -> list[ModelSpec]:
        if task is None:
            return list(self._specs.values())
        wanted = Task.parse(str(task))
        return [s for s in self._specs.values() if s.task == wanted]

    def add(self, spec: ModelSpec) -> None:
        self._specs[spec.id] = spec

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self._specs[model_id]
        except KeyError:
            raise UnknownModelError(
                f"unknown model {model_id!r}; choose one of: {', '.join(self._specs)} "
                f"(or give a local model folder, or a Hub repo id 'owner/name')"
            ) from None

    def resolve(self, model: str, *, architecture: str | None = None, revision: str | None = None) -> ModelSpec:
        """A registry id, a local model folder, or a Hub repo id (its ``config.json`` is fetched)."""
        model = str(model)
        if model in self._specs:
            return self._specs[model]
        candidate = Path(os.path.expanduser(model))
        if candidate.is_dir():
            return spec_from_folder(candidate)
        if HUB_ID_RE.match(model) and not candidate.exists():
            from . import hub

            config_path = hub.download_file(model, "config.json", revision=revision)
            try:
                config = json.loads(Path(config_path).read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise UnknownModelError(f"Hub repo {model!r}: config.json is not valid JSON ({exc})") from None
            return spec_from_hub_config(model, config, revision=revision, architecture=architecture)
        return self.get(model)


@lru_cache(maxsize=8)
def _builtin_specs(catalogue: str) -> tuple[ModelSpec, ...]:
    return tuple(read_catalogue(catalogue, builtin=True))


def load_registry(models_file: str | os.PathLike[str] | None = None) -> Registry:
    """The built-in catalogue plus the entries of ``models_file`` (a user TOML file), if given."""
    specs = list(_builtin_specs(str(os.environ.get("GAN_STUDIO_CATALOGUE", CATALOGUE_FILE))))
    if models_file:
        specs.extend(read_catalogue(models_file))
    return Registry(specs)
