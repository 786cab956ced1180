"""The Translate tab: image-to-image translators (CycleGAN/pix2pix, with a direction for two-way
models) and multi-domain translators (StarGAN, target attributes as toggles with exclusive groups
shown as one radio each).

Endpoints: ``translate``, ``translate_controls`` (model picked), ``translate_example``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..contract import JOBS, Task
from ..errors import UserInputError
from ..registry import ModelSpec
from .chain import SendButtons, run_on_upload, save_outputs, send_buttons
from .components import OpenCheckboxGroup, OpenRadio, UploadImage
from .handlers import gpu, load_with_progress, progress_fn, read_upload, user_errors
from .session import ImageLimits, ModelAccess, OutputStore, slug
from .text import spec_blurb

logger = logging.getLogger(__name__)

MAX_GROUPS = 3  # exclusive attribute groups shown as radios; more are still enforced by the engine
NO_CHANGE = "(none)"


@dataclass
class TranslateTab:
    """The Translate tab's components (the Inspect tab sends parameters here)."""

    image: gr.Image
    model: gr.Dropdown
    info: gr.Markdown
    direction: gr.Radio
    attributes: gr.CheckboxGroup
    groups: list[gr.Radio]
    seed: gr.Number
    working_size: gr.Slider
    full_resolution: gr.Checkbox
    slider: gr.ImageSlider
    download: gr.File
    sends: SendButtons | None = None


def split_attributes(spec: ModelSpec) -> tuple[list[str], list[tuple[str, ...]]]:
    """(free attributes as checkboxes, exclusive groups as radios) of a multi-domain model."""
    groups = [tuple(g) for g in spec.exclusive][:MAX_GROUPS]
    grouped = {name for g in groups for name in g}
    return [name for name in spec.labels if name not in grouped], groups


def controls_for(spec: ModelSpec | None, direction: Any = None, attributes: Sequence[str] | None = None,
                 groups: Sequence[Any] = ()) -> list[Any]:
    """Updates for (info, direction, attributes, *groups, working size, full resolution); keeps
    still-valid values."""
    hidden_groups = [gr.update(visible=False, choices=[NO_CHANGE], value=NO_CHANGE) for _ in range(MAX_GROUPS)]
    if spec is None:
        return ["", gr.update(visible=False), gr.update(visible=False, value=[]), *hidden_groups,
                gr.update(visible=False), gr.update(visible=False)]
    info = spec_blurb(spec)
    if spec.task == Task.TRANSLATION:
        if spec.variants:
            choices = [(spec.variant_labels.get(k, k), k) for k in spec.variants]
            value = direction if direction in spec.variants else spec.default_variant
            direction_update = gr.update(visible=True, choices=choices, value=value)
        else:
            direction_update = gr.update(visible=False, choices=[], value=None)
        return [info, direction_update, gr.update(visible=False, value=[]), *hidden_groups,
                gr.update(visible=True), gr.update(visible=True)]
    free, exclusive = split_attributes(spec)
    chosen = set(attributes or []) | {g for g in groups if g}
    attr_update = gr.update(visible=bool(free), choices=free, value=[a for a in free if a in chosen])
    group_updates = []
    for i in range(MAX_GROUPS):
        if i < len(exclusive):
            group = exclusive[i]
            picked = next((a for a in group if a in chosen), NO_CHANGE)
            group_updates.append(gr.update(visible=True, choices=[NO_CHANGE, *group], value=picked,
                                           label=f"Pick at most one: {' / '.join(group)}"))
        else:
            group_updates.append(gr.update(visible=False, choices=[NO_CHANGE], value=NO_CHANGE))
    return [info, gr.update(visible=False, choices=[], value=None), attr_update, *group_updates,
            gr.update(visible=False), gr.update(visible=False)]


def build_translate_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    session_models: gr.State,
    translate: Callable[..., Any],
    translate_attributes: Callable[..., Any],
    examples: Sequence[tuple[str, str]] = (),
    limits: ImageLimits | None = None,
) -> TranslateTab:
    """Lay out the Translate tab (call inside a ``gr.Tab``) and wire its events.

    ``translate``/``translate_attributes`` are :meth:`Studio.translate` and
    :meth:`Studio.translate_attributes`; ``examples`` are ``(image path, model id)`` pairs;
    ``limits`` bound an animated GIF run frame by frame (see :func:`gan_studio.ui.chain.run_on_upload`).
    """
    ids = access.ids(JOBS["translate"])
    first = access.studio.registry.get(ids[0]) if ids else None
    initial = controls_for(first)

    def initial_kwargs(update: Any) -> dict[str, Any]:
        return {k: v for k, v in update.items() if k in ("choices", "visible", "value", "label")}

    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = UploadImage(type="filepath", image_mode=None, label="Photo",
                                sources=["upload", "webcam", "clipboard"], height=300, elem_id="translate-input")
            model = gr.Dropdown(ids, value=ids[0] if ids else None, label="Translator", allow_custom_value=True,
                                info="CycleGAN / pix2pix translators and StarGAN multi-domain models")
            info = gr.Markdown(initial[0], elem_classes=["model-info"])
            direction = OpenRadio(label="Direction", **initial_kwargs(initial[1]))
            attributes = OpenCheckboxGroup(label="Target attributes", **initial_kwargs(initial[2]))
            groups: list[gr.Radio] = [OpenRadio(**({"label": "Pick at most one"} | initial_kwargs(initial[3 + i])))
                      for i in range(MAX_GROUPS)]
            with gr.Accordion("Advanced", open=False):
                seed = gr.Number(value=0, label="Seed (for models that keep dropout on)", precision=0, minimum=0)
                working_size = gr.Slider(0, 1024, value=0, step=8,
                                         label="Working size (short side, 0 = model default)",
                                         **initial_kwargs(initial[3 + MAX_GROUPS]))
                full_resolution = gr.Checkbox(value=False, label="Full resolution (translate in tiles at the "
                                              "photo's own size; slower)", **initial_kwargs(initial[4 + MAX_GROUPS]))
            run = gr.Button("Translate", variant="primary", elem_id="translate-button")
        with gr.Column(scale=2, min_width=360):
            slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="translate-slider",
                                    max_height=520)
            download = gr.File(label="Download PNG", elem_id="translate-download")
            sends = send_buttons("translate")

    @user_errors
    def do_translate(image: str | None, model: str, direction: str | None, attributes: list[str] | None,
                     group_1: str | None, group_2: str | None, group_3: str | None, seed: float | None,
                     working_size: float | None, full_resolution: bool | None, session: list[str] | None,
                     request: gr.Request,
                     progress: gr.Progress = gr.Progress()) -> tuple[tuple[str, str], str]:
        spec = access.spec(model, JOBS["translate"], session, tab="Translate")
        if image in (None, ""):
            read_upload(image, what="a photo")  # says what to do
        seed_int = int(seed or 0)
        if seed_int < 0:
            raise UserInputError(f"seed must be 0 or more, got {seed_int}")
        stem = slug(Path(str(image)).stem, limit=32)
        run: Callable[[Any], Any]
        if spec.task == Task.TRANSLATION:
            variant = (direction or None) if spec.variants else None
            load_with_progress(access.studio, spec, variant, progress)
            working = int(working_size) if working_size and float(working_size) > 0 else None

            def run(source: Any) -> Any:
                return translate(spec.id, source, direction=variant, working_size=working, seed=seed_int,
                                 full_resolution=bool(full_resolution), progress=progress_fn(progress, start=0.2))

            name = f"{stem}_{spec.id}{'_' + variant if variant else ''}"
        else:
            chosen = [*(attributes or []), *(g for g in (group_1, group_2, group_3) if g and g != NO_CHANGE)]
            load_with_progress(access.studio, spec, None, progress)

            def run(source: Any) -> Any:
                return translate_attributes(spec.id, source, chosen, seed=seed_int,
                                            progress=progress_fn(progress, start=0.2))

            name = f"{stem}_{spec.id}_{'+'.join(chosen) or 'unchanged'}"
        done = run_on_upload(image, run, limits=limits, what="a photo", progress=progress_fn(progress, start=0.2))
        return save_outputs(store, store.call_dir(request), name, done, source=image)

    def model_controls(model_id: str | None, direction_value: str | None, attribute_values: list[str] | None,
                       group_1: str | None, group_2: str | None, group_3: str | None,
                       session: list[str] | None) -> list[Any]:
        try:
            spec = access.spec(model_id, JOBS["translate"], session, tab="Translate")
        except Exception as exc:  # noqa: BLE001 - an unknown typed id: say so beside the picker, no toast
            updates = controls_for(None)
            updates[0] = f"⚠️ {exc}"
            return updates
        return controls_for(spec, direction_value, attribute_values, [group_1, group_2, group_3])

    run.click(gpu(do_translate),
              [image, model, direction, attributes, *groups, seed, working_size, full_resolution, session_models],
              [slider, download], api_name="translate", concurrency_id="gpu")
    model.change(model_controls, [model, direction, attributes, *groups, session_models],
                 [info, direction, attributes, *groups, working_size, full_resolution], api_name="translate_controls",
                 concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")

    rows = []
    for path, model_id in examples:
        spec = access.studio.registry.get(model_id)
        rows.append([path, model_id, (spec.default_variant or "") if spec.task == Task.TRANSLATION else ""])
    if rows:
        def run_example(image: str | None, model: str, direction: str | None, request: gr.Request,
                        progress: gr.Progress = gr.Progress()) -> tuple[tuple[str, str], str]:
            return do_translate(image, model, direction, [], None, None, None, 0, 0, False, [], request, progress)

        gr.Examples(rows, [image, model, direction], [slider, download], fn=gpu(run_example),
                    cache_examples=True, cache_mode="lazy", api_name="translate_example",
                    label="Examples (click one)")

    return TranslateTab(image, model, info, direction, attributes, groups, seed, working_size, full_resolution,
                        slider, download, sends)


def reproduce_updates(tab: TranslateTab, spec: ModelSpec, params: dict[str, Any]) -> dict[Any, Any]:
    """Component updates that set the Translate tab to the parameters of a studio PNG (the input
    image itself is not stored, so the user uploads it again)."""
    chosen = list(params.get("attributes") or [])
    updates = controls_for(spec, params.get("variant"), chosen, chosen)
    out: dict[Any, Any] = {tab.model: gr.update(value=spec.id), tab.info: updates[0], tab.direction: updates[1],
                           tab.attributes: updates[2], tab.working_size: updates[3 + MAX_GROUPS],
                           tab.full_resolution: updates[4 + MAX_GROUPS],
                           tab.seed: gr.update(value=int(params.get("seed", 0) or 0))}
    for radio, update in zip(tab.groups, updates[3:3 + MAX_GROUPS]):
        out[radio] = update
    if spec.task == Task.TRANSLATION:
        out[tab.working_size] = gr.update(value=int(params.get("working_size") or 0), visible=True)
        out[tab.full_resolution] = gr.update(value=bool(params.get("full_resolution")), visible=True)
    return out


def components(tab: TranslateTab) -> list[Any]:
    """Every component :func:`reproduce_updates` may update."""
    return [tab.model, tab.info, tab.direction, tab.attributes, *tab.groups, tab.working_size, tab.full_resolution,
            tab.seed]
