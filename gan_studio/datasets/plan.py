"""What a dataset run makes: the request (its arguments), the plan (candidates in fixed chunks) and
the candidates themselves (one image each, with its record).

A run walks a sequence of *candidates*. Candidate ``j`` is a pure function of the arguments and
``j``, never of what happened to other candidates:

* from a generator: chunk ``k = j // batch_size`` is one ``Studio.generate`` call of
  ``batch_size`` images from seeds ``seed + k * batch_size …``; with a class schedule (``--per-class``
  or ``--labels``) chunk ``k`` is all of class ``labels[k % len(labels)]``, otherwise a conditional
  model draws each image's class from its seed (as ``generate`` does without ``--label``);
* from a folder (``--input``): candidate ``j`` is the ``j``-th image file in sorted order, run
  with seed ``seed + j``.

The writer (:mod:`gan_studio.datasets.writer`) accepts candidates in order until the dataset is full
(class quotas, filters); a dropped candidate is recorded and the sequence simply continues. Chunks
are fixed, so a chunk computed by another process (Ray) or after a restart (resume) is the same
batch through the same forward pass, hence the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract import GENERATION_TASKS, Task
from ..errors import UserInputError
from ..metadata import png_bytes

if TYPE_CHECKING:
    from PIL import Image

    from ..studio import Studio

__all__ = [
    "FORMATS",
    "INPUT_SUFFIXES",
    "Candidate",
    "DatasetRequest",
    "Plan",
    "list_input_files",
    "make_plan",
    "produce_chunk",
]

#: Output formats: class sub-folders of PNGs, Parquet shards (Hugging Face ``datasets``), tar shards.
FORMATS = ("imagefolder", "parquet", "webdataset")
#: Image files ``--input`` picks up (decoded by the studio's one safe decoder).
INPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
#: Largest number of images one run may make (a guard against typos such as 10**12).
MAX_IMAGES = 100_000_000


@dataclass(frozen=True)
class DatasetRequest:
    """The arguments of a dataset run; together with the model's revision they decide every byte.

    Exactly one source: ``model`` as a generator (``n`` images, or ``per_class`` per class), or
    ``model`` applied to every image under ``input_dir``.
    """

    model: str                              # registry id, model folder or Hub repo id
    format: str = "parquet"                 # one of FORMATS
    n: int | None = None                    # images from a generator (with labels: split evenly)
    per_class: int | None = None            # or this many of each class (conditional generators)
    labels: tuple[str, ...] = ()            # the classes (names or indices); () = all (per_class) or drawn
    truncation: float | None = None         # latent truncation (generators)
    steps: int | None = None                # sampling steps (diffusion models)
    seed: int = 0                           # base seed: generator chunk k starts at seed + k * batch_size
    input_dir: str | None = None            # translate / colorize / edit every image of this folder
    direction: str | None = None            # translator variant (AtoB, BtoA, …)
    attributes: tuple[str, ...] = ()        # multidomain target attributes
    working_size: int | None = None         # image models' working size
    strength: float | None = None           # colorizers' colour strength
    shard_size: int = 1000                  # images per shard (one Parquet/tar file, one manifest step)
    batch_size: int = 16                    # images per forward pass = candidates per chunk
    min_confidence: float | None = None     # keep only samples the evaluator gives >= this for their class
    dedupe: bool = False                    # drop near-duplicates (of each other and of the training set)
    dedupe_bits: int | None = None          # Hamming threshold of the perceptual hash (default: filters.py)

    def arguments(self) -> dict[str, Any]:
        """The canonical, JSON-able arguments (recorded in the manifest and the card)."""
        out = asdict(self)
        out["labels"] = list(self.labels)
        out["attributes"] = list(self.attributes)
        if self.input_dir is not None:
            out["input_dir"] = str(Path(self.input_dir).resolve())
        return out


@dataclass(frozen=True)
class Candidate:
    """One image of the candidate sequence and its record."""

    j: int                                  # position in the candidate sequence
    seed: int
    label: int | None                       # class index (conditional generators)
    label_name: str | None
    source: str | None                      # input file, relative to input_dir (folder runs)
    png: bytes                              # the PNG, provenance in its text chunks
    params: dict[str, Any]                  # the provenance (as in the PNG)
    confidence: float | None = None         # the evaluator's probability of the requested class
    phash: int | None = None                # 64-bit perceptual hash (with dedupe)

    def to_row(self) -> dict[str, Any]:
        """A JSON-able form (everything but the PNG), e.g. to ship between processes."""
        return {"j": self.j, "seed": self.seed, "label": self.label, "label_name": self.label_name,
                "source": self.source, "params": self.params, "confidence": self.confidence,
                "phash": None if self.phash is None else f"{self.phash:016x}"}

    @classmethod
    def from_row(cls, row: dict[str, Any], png: bytes) -> Candidate:
        phash = row.get("phash")
        return cls(j=int(row["j"]), seed=int(row["seed"]), label=row.get("label"), label_name=row.get("label_name"),
                   source=row.get("source"), png=png, params=dict(row["params"]), confidence=row.get("confidence"),
                   phash=None if phash is None else int(phash, 16))


@dataclass
class Plan:
    """A request checked against its model: the total, the class schedule, the input files."""

    request: DatasetRequest
    model_id: str
    revision: str
    task: Task
    architecture: str
    license: str
    description: str
    total: int                                   # images in the finished dataset
    mode: str                                    # "generate" or "input"
    class_names: list[str] = field(default_factory=list)    # all the model's classes (conditional)
    schedule: list[int] = field(default_factory=list)       # class per chunk (cycled); [] = none
    quotas: dict[int, int] = field(default_factory=dict)    # images per scheduled class
    files: list[str] = field(default_factory=list)          # input files, relative, sorted
    training_set: str | None = None                          # what the model was trained on, when known
    evaluator: str | None = None                             # the classifier for --min-confidence
    runtime: dict[str, Any] = field(default_factory=dict)   # the runtime options asked for (precision, …)

    @property
    def chunk_size(self) -> int:
        return self.request.batch_size

    @property
    def num_shards(self) -> int:
        return math.ceil(self.total / self.request.shard_size)

    def chunk_label(self, chunk: int) -> int | None:
        """The class of every candidate of ``chunk`` under a class schedule (None without one)."""
        return self.schedule[chunk % len(self.schedule)] if self.schedule else None

    def num_candidates(self) -> int | None:
        """How many candidates exist (folder runs: one per file); None for generators (endless)."""
        return len(self.files) if self.mode == "input" else None

    def arguments(self) -> dict[str, Any]:
        """The request's arguments plus what they resolved to (model revision, input listing)."""
        out = self.request.arguments()
        out["model_id"] = self.model_id
        out["revision"] = self.revision
        out["runtime"] = self.runtime  # another precision or memory format gives other bytes
        if self.mode == "input":
            out["input_files_sha256"] = hashlib.sha256("\n".join(self.files).encode("utf-8")).hexdigest()
        return out


# ---- planning ------------------------------------------------------------------------------------
def list_input_files(folder: str | os.PathLike[str]) -> list[str]:
    """Every image file under ``folder`` (recursively, :data:`INPUT_SUFFIXES`), as sorted POSIX
    paths relative to it; hidden files and folders are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise UserInputError(f"input folder {str(folder)!r} does not exist or is not a folder")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in INPUT_SUFFIXES:
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    found.sort()
    if not found:
        raise UserInputError(f"input folder {str(folder)!r} holds no images ({', '.join(INPUT_SUFFIXES)})")
    stems: dict[str, str] = {}
    for rel in found:
        out = str(Path(rel).with_suffix(".png"))
        if out in stems:
            raise UserInputError(f"input files {stems[out]!r} and {rel!r} would both be written as {out!r}; "
                                 f"rename one of them")
        stems[out] = rel
    return found


def _positive(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise UserInputError(f"{what} must be a whole number of at least 1, got {value!r}")
    if value > MAX_IMAGES:
        raise UserInputError(f"{what} must be at most {MAX_IMAGES:,}, got {value!r}")
    return int(value)


def check_request(request: DatasetRequest) -> None:
    """Checks that need no model: format, counts, sizes, filters."""
    if request.format not in FORMATS:
        raise UserInputError(f"unknown dataset format {request.format!r}; choose one of: {', '.join(FORMATS)}")
    _positive(request.n, "the number of images (--n)")
    _positive(request.per_class, "images per class (--per-class)")
    _positive(request.shard_size, "the shard size")
    _positive(request.batch_size, "the batch size")
    if not 0 <= request.seed <= 2**63 - 1:
        raise UserInputError(f"seed {request.seed} out of range; use 0 … {2**63 - 1}")
    if request.min_confidence is not None and not 0 <= request.min_confidence <= 1:
        raise UserInputError(f"--min-confidence must be a probability between 0 and 1, got {request.min_confidence}")
    if request.dedupe_bits is not None and not 0 <= request.dedupe_bits <= 64:
        raise UserInputError(f"the dedupe threshold must be 0 … 64 bits, got {request.dedupe_bits}")
    if request.input_dir is not None:
        extra = [name for name, value in (("--n", request.n), ("--per-class", request.per_class),
                                          ("--labels", request.labels or None), ("--truncation", request.truncation),
                                          ("--steps", request.steps)) if value is not None]
        if extra:
            raise UserInputError(f"{', '.join(extra)} apply to generators; with --input every image of the folder "
                                 f"is used once")
        if request.min_confidence is not None or request.dedupe:
            raise UserInputError("--min-confidence and --dedupe filter generated samples; they do not apply to "
                                 "--input runs")
    else:
        if request.n is None and request.per_class is None:
            raise UserInputError("say how many images: --n N, or --per-class K for a conditional generator")
        if request.n is not None and request.per_class is not None:
            raise UserInputError(f"give --n ({request.n}) or --per-class ({request.per_class}), not both")
        if request.per_class is None and request.labels and request.n is not None and request.n < len(request.labels):
            raise UserInputError(f"--n {request.n} is fewer than the {len(request.labels)} classes of --labels")


def make_plan(studio: Studio, request: DatasetRequest) -> Plan:
    """Check ``request`` against its model (loading it) and fix the class schedule and the totals."""
    from ..pipelines.generation import num_classes_of, resolve_label
    from .filters import evaluator_for, training_set_of

    check_request(request)
    spec = studio.spec(request.model)
    loaded = studio.load(spec.id, request.direction if spec.variants else None)
    plan = Plan(request=request, model_id=spec.id, revision=loaded.revision, task=spec.task,
                architecture=loaded.architecture, license=spec.license, description=spec.description,
                total=0, mode="input" if request.input_dir is not None else "generate",
                runtime={"precision": studio.runtime.precision, "channels_last": studio.runtime.channels_last})
    if plan.mode == "input":
        if spec.task in GENERATION_TASKS:
            raise UserInputError(f"model {spec.id!r} is a {spec.task.value} model; --input needs a translation, "
                                 f"multidomain or colorization model (or drop --input to generate)")
        plan.files = list_input_files(request.input_dir or "")
        plan.total = len(plan.files)
        if spec.task != Task.MULTIDOMAIN and request.attributes:
            raise UserInputError(f"--attributes is for multidomain models; {spec.id!r} is a {spec.task.value} model")
        if spec.task != Task.COLORIZATION and request.strength is not None:
            raise UserInputError(f"--strength is for colorization models; {spec.id!r} is a {spec.task.value} model")
        if not spec.variants and request.direction not in (None, ""):
            spec.source_for(request.direction)  # raises: the model has no variants
        return plan

    if spec.task not in GENERATION_TASKS:
        raise UserInputError(f"model {spec.id!r} is a {spec.task.value} model, not a generator; pass --input DIR "
                             f"to run it over a folder of images")
    for name, value in (("--direction", request.direction), ("--attributes", request.attributes or None),
                        ("--size", request.working_size), ("--strength", request.strength)):
        if value is not None:
            raise UserInputError(f"{name} applies to --input runs (image models), not to generators")
    conditional = spec.task == Task.CONDITIONAL
    if conditional:
        count = num_classes_of(loaded)
        plan.class_names = [spec.labels[i] if i < len(spec.labels) else str(i) for i in range(count)]
    if request.labels or request.per_class is not None:
        if not conditional:
            raise UserInputError(f"model {spec.id!r} is unconditional; --labels and --per-class need a "
                                 f"conditional model")
        chosen = [resolve_label(loaded, label) for label in request.labels] if request.labels \
            else list(range(len(plan.class_names)))
        indices = [int(i) for i in chosen if i is not None]
        if len(set(indices)) != len(indices):
            raise UserInputError(f"--labels names a class twice: {', '.join(request.labels)}")
        plan.schedule = indices
        if request.per_class is not None:
            plan.quotas = {c: request.per_class for c in indices}
        else:
            n = int(request.n or 0)
            plan.quotas = {c: n // len(indices) + (1 if k < n % len(indices) else 0) for k, c in enumerate(indices)}
        plan.total = sum(plan.quotas.values())
    else:
        plan.total = int(request.n or 0)
    plan.training_set = training_set_of(spec)
    if request.min_confidence is not None:
        if not conditional:
            raise UserInputError(f"--min-confidence keeps samples classified as their requested class; model "
                                 f"{spec.id!r} is unconditional and requests none")
        plan.evaluator = evaluator_for(spec, plan.training_set)
    return plan


# ---- candidates ----------------------------------------------------------------------------------
def _record_params(params: dict[str, Any], j: int) -> dict[str, Any]:
    return {**params, "dataset_candidate": j}


def produce_chunk(studio: Studio, plan: Plan, chunk: int) -> list[Candidate]:
    """The candidates of ``chunk`` (images, PNGs with provenance, filter scores). Pure: the same
    plan and chunk give the same candidates in any process."""
    from .filters import confidences, perceptual_hash

    request = plan.request
    start = chunk * plan.chunk_size
    out: list[Candidate] = []
    images: list[Image.Image] = []
    if plan.mode == "generate":
        label = plan.chunk_label(chunk)
        results = studio.generate(plan.model_id, seed=request.seed + start, n=plan.chunk_size, label=label,
                                  truncation=request.truncation, steps=request.steps,
                                  batch_size=plan.chunk_size)
        for i, result in enumerate(results):
            name = result.params.get("label")
            index = plan.class_names.index(name) if name is not None and name in plan.class_names else None
            params = _record_params(result.params, start + i)
            images.append(result.image)
            out.append(Candidate(j=start + i, seed=int(result.params["seed"]), label=index, label_name=name,
                                 source=None, png=png_bytes(result.image, params), params=params))
    else:
        stop = min(start + plan.chunk_size, len(plan.files))
        for j in range(start, stop):
            rel = plan.files[j]
            result = _run_image_model(studio, plan, rel, request.seed + j)
            params = _record_params({**result.params, "input": rel}, j)
            images.append(result.image)
            out.append(Candidate(j=j, seed=request.seed + j, label=None, label_name=None, source=rel,
                                 png=png_bytes(result.image, params), params=params))
    if plan.evaluator is not None and out:
        scores = confidences(plan.evaluator, images, [c.label or 0 for c in out])
        out = [_replace(c, confidence=round(s, 6)) for c, s in zip(out, scores)]
    if request.dedupe:
        out = [_replace(c, phash=perceptual_hash(im)) for c, im in zip(out, images)]
    return out


def _replace(c: Candidate, **changes: Any) -> Candidate:
    from dataclasses import replace

    return replace(c, **changes)


def _run_image_model(studio: Studio, plan: Plan, rel: str, seed: int) -> Any:
    from ..image_io import load_image

    request = plan.request
    path = Path(request.input_dir or "") / rel
    image, _notes = load_image(path)
    if plan.task == Task.MULTIDOMAIN:
        return studio.translate_attributes(plan.model_id, image, list(request.attributes), seed=seed)
    if plan.task == Task.COLORIZATION:
        return studio.colorize(plan.model_id, image, working_size=request.working_size,
                               strength=1.0 if request.strength is None else request.strength)
    return studio.translate(plan.model_id, image, direction=request.direction, working_size=request.working_size,
                            seed=seed)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def describe_differences(old: dict[str, Any], new: dict[str, Any], keys: Sequence[str] | None = None) -> list[str]:
    """``key: old -> new`` for every argument that differs."""
    names = keys if keys is not None else sorted(set(old) | set(new))
    return [f"{k}={old.get(k)!r} (now {new.get(k)!r})" for k in names if old.get(k) != new.get(k)]
