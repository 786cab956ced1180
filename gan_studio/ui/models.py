"""The Models tab: the registry as a table, the selected model's card, and adding a Hub repo id or
a local model folder for this session (off in public mode).

Endpoints: ``model_card``, ``add_model``, ``select_model_row``.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..contract import Task, job_of
from ..errors import UserInputError
from ..registry import ModelSpec
from .handlers import user_errors
from .session import ModelAccess
from .text import markdown_escape

logger = logging.getLogger(__name__)

COLUMNS = ["id", "task", "architecture", "source", "licence", "image size", "weights"]
MAX_CARD_BYTES = 200_000
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)
#: A card's images are inlined as ``data:`` URIs (the page cannot reach the model folder); each is
#: re-encoded from the decoded pixels, at most this many pixels on its long side and this many bytes.
CARD_IMAGE_MAX_SIDE = 1024
CARD_IMAGE_MAX_BYTES = 400_000
CARD_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_MD_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\(\s*(?P<src><[^>\n]*>|[^)\s]+)(?P<title>\s+\"[^\"\n]*\")?\s*\)")
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.I)
_URL_SCHEME = re.compile(r"\A(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")

WeightFiles = Callable[[ModelSpec], list[Path] | None]  # Studio.weight_files


@dataclass
class ModelsTab:
    table: gr.Dataframe
    picker: gr.Dropdown
    card: gr.Markdown


def weights_size(spec: ModelSpec, files: list[Path] | None) -> str:
    """Size of a model's local weight files ``files`` (:meth:`Studio.weight_files`): "on the Hub"
    when it has none (fetched on first use), "missing" when one of its files is absent."""
    if files is None:
        return "on the Hub"
    if len(files) < (len(spec.variants) or 1):
        return "missing"
    total = sum(f.stat().st_size for f in files)
    if total >= 1 << 20:
        return f"{total / (1 << 20):.1f} MB"
    return f"{total / 1024:.0f} KB"


def _source(spec: ModelSpec) -> str:
    sources = list(spec.variants.values()) or [spec.source]
    first = sources[0]
    if first.is_hub:
        rev = first.revision or ""
        short = rev[:7] if len(rev) == 40 and all(c in "0123456789abcdef" for c in rev) else rev
        return f"hub:{first.repo_id}" + (f"@{short}" if short else "")
    if spec.builtin:
        return "built in"
    return "local folder"


def table_rows(specs: Sequence[ModelSpec], weight_files: WeightFiles) -> list[list[str]]:
    """One row per model: id, task, architecture, source, licence, image size, weights."""
    return [
        [s.id, s.task.value, s.architecture, _source(s), s.license,
         f"{s.image_size} px" if s.image_size else "any", weights_size(s, weight_files(s))]
        for s in specs
    ]


def registry_facts(spec: ModelSpec, weight_files: WeightFiles, *, public: bool = False) -> str:
    """The registry entry as a Markdown list (local paths hidden in public mode)."""
    if public and not spec.source.is_hub:
        source = _source(spec)
    elif spec.variants:
        source = ", ".join(f"{k}: {v.describe()}" for k, v in spec.variants.items())
    else:
        source = spec.source.describe()
    facts: list[tuple[str, Any]] = [
        ("task", spec.task.value),
        ("architecture", f"`{spec.architecture}`"),
        ("source", markdown_escape(source)),
        ("image size", f"{spec.image_size} px" if spec.image_size else "any"),
        ("channels", spec.channels),
        ("weights", weights_size(spec, weight_files(spec))),
        ("licence", markdown_escape(spec.license)),
    ]
    if spec.labels:
        facts.append(("classes / attributes", markdown_escape(", ".join(spec.labels))))
    if spec.exclusive:
        facts.append(("exclusive groups", markdown_escape("; ".join(" / ".join(g) for g in spec.exclusive))))
    if spec.variants:
        facts.append(("directions", markdown_escape(
            ", ".join(f"{k} ({spec.variant_labels[k]})" if k in spec.variant_labels else k for k in spec.variants))))
    return "\n".join(f"- **{name}**: {value}" for name, value in facts)


def card_markdown(spec: ModelSpec, weight_files: WeightFiles, *, public: bool = False) -> str:
    """The model card (README.md without its YAML front matter, its images inlined with
    :func:`inline_card_images`) and the registry entry; a short description stands in for a
    missing card."""
    text = ""
    if spec.card:
        try:
            raw = Path(spec.card).read_bytes()[:MAX_CARD_BYTES]
            text = _FRONT_MATTER.sub("", raw.decode("utf-8", errors="replace"), count=1).strip()
        except OSError as exc:
            logger.warning("cannot read the card of %s: %s", spec.id, exc)
        else:
            text = inline_card_images(text, Path(spec.card).parent)
    if not text:
        text = f"## {markdown_escape(spec.id)}\n\n{markdown_escape(spec.description or 'This model has no card.')}"
    return f"{text}\n\n---\n\n#### Registry entry\n\n{registry_facts(spec, weight_files, public=public)}\n"


def inline_card_images(text: str, folder: Path) -> str:
    """``text`` (a card's Markdown) with each image linked relative to the card's ``folder``
    (``![alt](samples.png)``, ``<img src="samples.png">``) replaced by a ``data:`` URI of that image,
    so the page shows it without the model folder being served.

    Only files inside ``folder`` with an image suffix are read, through
    :func:`gan_studio.image_io.load_image`, and re-encoded (at most :data:`CARD_IMAGE_MAX_SIDE` px,
    :data:`CARD_IMAGE_MAX_BYTES`). An image that cannot be inlined becomes its alt text; links
    with a scheme (``https:``, ``data:``) are left as they are.
    """

    def markdown_image(match: re.Match[str]) -> str:
        src = match.group("src").strip("<>")
        if _URL_SCHEME.match(src):
            return match.group(0)
        alt = match.group("alt")
        uri = _card_image_uri(folder, src)
        if uri is None:
            return f"*[image not shown: {markdown_escape(alt or src)}]*"
        return f"![{alt}]({uri}{match.group('title') or ''})"

    def html_image(match: re.Match[str]) -> str:
        tag = match.group(0)
        found = re.search(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", tag, re.I)
        if found is None:
            return tag
        src = next(g for g in found.groups() if g is not None)
        if _URL_SCHEME.match(src):
            return tag
        uri = _card_image_uri(folder, src)
        if uri is None:
            alt = re.search(r"""\salt\s*=\s*(?:"([^"]*)"|'([^']*)')""", tag, re.I)
            label = next((g for g in alt.groups() if g is not None), src) if alt else src
            return f"*[image not shown: {markdown_escape(label)}]*"
        return tag[:found.start()] + f' src="{uri}"' + tag[found.end():]

    return _HTML_IMAGE.sub(html_image, _MD_IMAGE.sub(markdown_image, text))


def _card_image_uri(folder: Path, src: str) -> str | None:
    """A ``data:`` URI of the image ``src`` (relative to ``folder``), or None if it is not a readable
    image inside ``folder``."""
    from urllib.parse import unquote

    relative = unquote(src.split("#", 1)[0].split("?", 1)[0]).strip()
    if not relative or relative.startswith(("/", "\\")) or Path(relative).suffix.lower() not in CARD_IMAGE_SUFFIXES:
        return None
    try:
        root = folder.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        stat = path.stat()
    except OSError:
        return None
    return _encoded_image(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _encoded_image(path: str, mtime_ns: int, size: int) -> str | None:
    """The image at ``path`` re-encoded as a ``data:`` URI (cached per file version), or None."""
    from ..errors import ImageInputError
    from ..image_io import load_image

    try:
        image, _ = load_image(path, max_pixels=16_000_000)
    except ImageInputError as exc:
        logger.warning("card image not shown: %s", exc)
        return None
    image.thumbnail((CARD_IMAGE_MAX_SIDE, CARD_IMAGE_MAX_SIDE))
    for fmt, options in (("PNG", {"optimize": True}), ("JPEG", {"quality": 85}), ("JPEG", {"quality": 60})):
        buf = io.BytesIO()
        image.save(buf, format=fmt, **options)
        if buf.tell() <= CARD_IMAGE_MAX_BYTES:
            return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
    logger.warning("card image not shown: %s is larger than %d bytes even as a JPEG", path, CARD_IMAGE_MAX_BYTES)
    return None


def build_models_tab(
    *,
    access: ModelAccess,
    session_models: gr.State,
    refresh: Sequence[tuple[gr.Dropdown, tuple[Task, ...]]],
    weight_files: WeightFiles,
) -> ModelsTab:
    """Lay out the Models tab (call inside a ``gr.Tab``) and wire its events.

    ``weight_files`` is :meth:`Studio.weight_files` (the weights column and facts); ``refresh`` lists the other tabs' model pickers and the tasks they show; adding a model
    updates their choices for this session.
    """
    registry = access.studio.registry
    ids = access.ids(tuple(Task))
    table = gr.Dataframe(table_rows([registry.get(i) for i in ids], weight_files), headers=COLUMNS,
                         interactive=False,
                         label="Registered models (click a row for its card)", elem_id="models-table", wrap=True)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            picker = gr.Dropdown(ids, value=ids[0] if ids else None, label="Model card", allow_custom_value=True)
            card = gr.Markdown(card_markdown(registry.get(ids[0]), weight_files, public=access.public) if ids else "",
                               elem_id="model-card", container=True)
        with gr.Column(scale=2):
            if not access.public:
                with gr.Group():
                    new_model = gr.Textbox(label="Add a model for this session",
                                           placeholder="a Hub repo id (owner/name) or a local model folder",
                                           info="its config.json must name a gan_studio architecture and task",
                                           elem_id="add-model-box")
                    add = gr.Button("Add model", elem_id="add-model-button")
                status = gr.Markdown()
            else:
                gr.Markdown("Adding models is turned off on this public studio.")

    @user_errors
    def show_card(model_id: str | None, session: list[str] | None) -> str:
        if model_id in (None, ""):
            return ""
        if model_id not in access.ids(tuple(Task), session):
            choices = ", ".join(access.ids(tuple(Task), session))
            raise UserInputError(f"unknown model {model_id!r}; choose one of: {choices}")
        return card_markdown(registry.get(model_id), weight_files, public=access.public)

    def select_row(evt: gr.SelectData) -> Any:
        row = evt.row_value or []
        return gr.update(value=row[0]) if row else gr.update()

    picker.change(show_card, [picker, session_models], card, api_name="model_card", concurrency_limit=None,
                  show_progress="hidden")
    table.select(select_row, None, picker, api_name="select_model_row", concurrency_limit=None,
                 show_progress="hidden", api_visibility="undocumented")

    if not access.public:
        @user_errors
        def add_model(text: str | None, session: list[str] | None,
                      progress: gr.Progress = gr.Progress()) -> list[Any]:
            if access.public:  # defence in depth: never resolve arbitrary ids in public mode
                raise UserInputError("adding models is turned off on this public studio")
            wanted = (text or "").strip()
            if not wanted:
                raise UserInputError("type a Hub repo id (owner/name) or the path of a local model folder")
            progress(0.1, desc=f"reading {wanted}…")
            spec = access.studio.spec(wanted)
            session = [*(session or [])]
            if spec.id not in session and spec.id not in access.base_ids:
                session.append(spec.id)
            all_ids = access.ids(tuple(Task), session)
            outputs: list[Any] = [
                table_rows([registry.get(i) for i in all_ids], weight_files),
                gr.update(choices=all_ids, value=spec.id),
                f"Added **{markdown_escape(spec.id)}** ({spec.task.value}); pick it on the "
                f"{job_of(spec.task).capitalize()} tab.",
                session,
                "",
            ]
            outputs += [gr.update(choices=access.ids(tasks, session)) for _, tasks in refresh]
            gr.Info(f"added {spec.id}")
            return outputs

        add.click(add_model, [new_model, session_models],
                  [table, picker, status, session_models, new_model, *(d for d, _ in refresh)],
                  api_name="add_model", concurrency_id="gpu")
        new_model.submit(add_model, [new_model, session_models],
                         [table, picker, status, session_models, new_model, *(d for d, _ in refresh)],
                         api_name="add_model_submit", concurrency_id="gpu", api_visibility="undocumented")
    return ModelsTab(table, picker, card)
