"""The Style tab: what a StyleGAN can do that other generators cannot — images with truncation ψ
towards the average style (with a layer cutoff) and a noise mode, style mixing, semantic directions
found without training data (SeFa) with sliders, and interpolation in W.

Only models whose architecture declares a style space are offered; when one is picked, the
controls its contract supports (noise modes, the number of style layers) are shown.

"Your photo" projects an upload into W or W+ (a pixel loss: no perceptual network is available
offline, and the tab says so), with progress, a step budget and a Stop button; the direction sliders
then edit the projected photo. A consent notice stands above it.

Endpoints: ``style_controls`` (model picked), ``style_generate``, ``style_mix``, ``style_directions``,
``style_edit``, ``style_interpolate``, ``style_project``, ``style_stop``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..contract import JOBS
from ..errors import UserInputError
from .chain import SendButtons, send_buttons
from .components import UploadImage
from .handlers import event_time_limit, gpu, load_with_progress, progress_fn, read_upload, user_errors
from .session import ModelAccess, OutputStore
from .text import spec_blurb

logger = logging.getLogger(__name__)

MODES = ("Generate", "Mix styles", "Directions", "Interpolate in W", "Your photo")
#: What a generator without a style space W (ProGAN) can do here: directions are found in z.
Z_MODES = ("Generate", "Directions")


def modes_for(has_w_space: bool) -> list[str]:
    """The modes a model's contract supports (mixing, W interpolation and projection need W)."""
    return list(MODES if has_w_space else Z_MODES)
LAYER_CHOICES = [("coarse (4–8 px: pose, shape)", "coarse"), ("middle (16–32 px: features)", "middle"),
                 ("fine (64 px and up: colour, texture)", "fine"), ("all", "all")]
N_SLIDERS = 5  # direction sliders shown
MAX_SEEDS = 8
RANDOM_CLASS = "(a class per seed)"


def _label(value: Any) -> str | None:
    return None if value in (None, "", RANDOM_CLASS) else str(value)


@dataclass
class StyleTab:
    model: gr.Dropdown
    info: gr.Markdown
    mode: gr.Radio
    result: gr.Image
    gallery: gr.Gallery
    params: gr.JSON
    sends: SendButtons | None = None


def parse_seeds(text: Any, what: str) -> list[int]:
    """Seeds from text such as ``"1 2 3"`` or ``"1, 2, 3"`` (1 to 8 of them)."""
    parts = [p for p in re.split(r"[\s,;]+", str(text or "").strip()) if p]
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        raise UserInputError(f"{what} must be whole numbers separated by spaces or commas, got {text!r}") from None
    if not 1 <= len(seeds) <= MAX_SEEDS or any(s < 0 for s in seeds):
        raise UserInputError(f"give 1 to {MAX_SEEDS} {what} (whole numbers >= 0), got {text!r}")
    return seeds


def _psi(value: Any) -> float | None:
    psi = float(value if value not in (None, "") else 1.0)
    return None if psi == 1.0 else psi


def _cutoff(value: Any, num_ws: int) -> int | None:
    cutoff = int(float(value or 0))
    return None if cutoff <= 0 or cutoff >= num_ws else cutoff


def build_style_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    session_models: gr.State,
    generate: Callable[..., list[Any]],
    style_mix: Callable[..., Any],
    directions: Callable[..., Any],
    edit: Callable[..., Any],
    w_interpolate: Callable[..., list[Any]],
    project: Callable[..., Any] | None = None,
    max_images: int = 16,
    max_projection_steps: int = 300,
) -> StyleTab:
    """Lay out the Style tab (call inside a ``gr.Tab``) and wire its events."""
    studio = access.studio

    def style_ids(session: Sequence[str] | None = None) -> list[str]:
        ids = [i for i in access.ids(JOBS["generate"], session) if studio.has_directions(studio.registry.get(i))]
        # local ones (no download) first, and among them the ones with a style space (StyleGANs)
        return sorted(ids, key=lambda i: (studio.registry.get(i).source.is_hub, not _has_w(i)))

    def _has_w(model_id: str) -> bool:
        from ..architectures import architecture_class

        return bool(architecture_class(studio.registry.get(model_id).architecture).has_w_space)

    ids = style_ids()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            model = gr.Dropdown(ids, value=ids[0] if ids else None, label="StyleGAN model", allow_custom_value=True,
                                elem_id="style-model",
                                info="models with a style space (StyleGAN family); ProGAN for directions in z")
            info = gr.Markdown(spec_blurb(studio.registry.get(ids[0])) if ids else
                               "No StyleGAN is registered. Add one in the **Models** tab (a Hub repo id or a folder "
                               "made by `gan-studio convert network.pkl OUT`).", elem_classes=["model-info"])
            mode = gr.Radio(modes_for(_has_w(ids[0])) if ids else list(MODES), value=MODES[0], label="What to do",
                            elem_id="style-mode")
            seed = gr.Number(value=42, label="Seed", precision=0, minimum=0, elem_id="style-seed")
            psi = gr.Slider(-1.0, 2.0, value=0.7, step=0.05, label="Truncation ψ",
                            info="towards the average style: 1 = none, 0.5–0.8 = fewer odd images, less variety")
            cutoff = gr.Slider(0, 18, value=0, step=1, label="Truncation layer cutoff (0 = all layers)")
            label = gr.Dropdown([RANDOM_CLASS], value=RANDOM_CLASS, label="Class", visible=False,
                                allow_custom_value=True, elem_id="style-class")
            noise = gr.Radio(["const", "random", "none"], value="const", label="Noise inputs",
                             info="const: the stored noise; random: drawn from the seed; none: off")
            with gr.Group(visible=False) as transform_group:  # StyleGAN3: its contract's input_transform
                shift_x = gr.Slider(-0.5, 0.5, value=0.0, step=0.01, label="Translate x (image widths)")
                shift_y = gr.Slider(-0.5, 0.5, value=0.0, step=0.01, label="Translate y (image heights)")
                rotate = gr.Slider(-180, 180, value=0, step=1, label="Rotate (degrees)",
                                   info="alias-free: the content moves, the texture does not stick to the pixels")
            with gr.Group(visible=True) as generate_group:
                count = gr.Slider(1, max_images, value=4, step=1, label="Number of images")
                run_generate = gr.Button("Generate", variant="primary", elem_id="style-generate-button")
            with gr.Group(visible=False) as mix_group:
                rows = gr.Textbox(value="1 2 3", label="Row seeds (their styles are the base)", elem_id="style-rows")
                cols = gr.Textbox(value="4 5 6", label="Column seeds (they give the chosen styles)",
                                  elem_id="style-cols")
                layers = gr.Radio(LAYER_CHOICES, value="coarse", label="Styles taken from the columns")
                run_mix = gr.Button("Mix", variant="primary", elem_id="style-mix-button")
            with gr.Group(visible=False) as directions_group:
                dir_layers = gr.Radio(LAYER_CHOICES, value="all", label="Layers the directions act on")
                run_preview = gr.Button("Preview the directions", elem_id="style-preview-button")
                sliders = [gr.Slider(-10, 10, value=0, step=0.5, label=f"Direction {i + 1}",
                                     elem_id=f"style-direction-{i + 1}") for i in range(N_SLIDERS)]
                edit_photo = gr.Checkbox(value=False, label="Edit my projected photo (see 'Your photo')",
                                         elem_id="style-edit-photo")
                run_edit = gr.Button("Apply", variant="primary", elem_id="style-edit-button")
            with gr.Group(visible=False) as interp_group:
                seed_b = gr.Number(value=1234, label="Second seed", precision=0, minimum=0)
                frames = gr.Slider(2, 32, value=8, step=1, label="Frames")
                run_interp = gr.Button("Interpolate in W", variant="primary", elem_id="style-interpolate-button")
            with gr.Group(visible=False) as photo_group:
                from ..pipelines.projection import LOSS_NOTE

                gr.Markdown("**Only edit photos of people who agreed to it.** Edited faces can mislead: never use "
                            "them to deceive, harass or impersonate. Every result is labelled as AI-generated in its "
                            "file (signed Content Credentials and an invisible watermark; check any image in the "
                            "Inspect tab). Projection uses a " + LOSS_NOTE + "."
                            if project is not None else
                            "**Editing uploaded photos is switched off on this server** by its operator "
                            "(`--no-photo-editing`). Generated faces can still be edited.",
                            elem_id="style-consent")
                photo = UploadImage(type="filepath", image_mode=None, label="Your photo (a face, centred)",
                                    sources=["upload", "clipboard"], elem_id="style-photo",
                                    interactive=project is not None)
                steps = gr.Slider(10, max_projection_steps, value=min(100, max_projection_steps), step=10,
                                  label="Optimisation steps", info="more steps: closer, slower",
                                  elem_id="style-steps")
                space = gr.Radio([("W: one style for all layers (edits well)", "w"),
                                  ("W+: one per layer (closer, edits less cleanly)", "w+")], value="w",
                                 label="Projection space")
                with gr.Row():
                    run_project = gr.Button("Project", variant="primary", elem_id="style-project-button",
                                            interactive=project is not None)
                    stop_project = gr.Button("Stop", elem_id="style-stop-button")
            projected = gr.State(None)  # the projected photo's styles (a list of lists), per session
        with gr.Column(scale=2, min_width=360):
            result = gr.Image(label="Result", type="filepath", format="png", height=460, elem_id="style-result",
                              buttons=["download", "fullscreen"])
            sends = send_buttons("style")
            gallery = gr.Gallery(label="Images", columns=4, height=300, object_fit="contain", type="filepath",
                                 format="png", elem_id="style-gallery", buttons=["download"])
            with gr.Accordion("Parameters", open=False):
                params = gr.JSON(label="Parameters", elem_id="style-params")

    groups = [generate_group, mix_group, directions_group, interp_group, photo_group]
    stops: dict[str, threading.Event] = {}  # session -> its running projection's stop flag

    # ---- handlers ------------------------------------------------------------------------------
    def _spec(model_id: Any, session: list[str] | None) -> Any:
        spec = access.spec(model_id, JOBS["generate"], session, tab="Style")
        if not studio.has_directions(spec):
            raise UserInputError(f"model {spec.id!r} ({spec.architecture}) has no style space; the Style tab takes "
                                 f"a StyleGAN: {', '.join(style_ids(session)) or '(none registered)'}")
        return spec

    def _save(request: gr.Request, name: str, res: Any) -> str:
        return store.save_png(store.call_dir(request), name, res.image, res.params)

    @user_errors
    def controls(model_id: str | None, session: list[str] | None,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        spec = _spec(model_id, session)
        load_with_progress(studio, spec, None, progress)
        contract = studio.load(spec.id).contract
        modes = list(contract.noise_modes)
        if contract.num_ws:
            what = (f"{contract.num_ws} style layers feeding "
                    f"{min(contract.ws_resolutions)}–{max(contract.ws_resolutions)} px")
        else:
            what = "no style space: its directions are found in z (the Directions mode, layers 'all')"
        return (spec_blurb(spec) + f"  \n{what}",
                gr.update(maximum=max(contract.num_ws, 1), value=0),
                gr.update(visible=bool(modes), choices=modes or ["const"], value=modes[0] if modes else "const"),
                gr.update(visible=contract.input_transform),
                gr.update(visible=bool(contract.num_classes), value=RANDOM_CLASS,
                          choices=[RANDOM_CLASS, *(list(spec.labels) or [str(i) for i in range(contract.num_classes)])]),
                gr.update(choices=modes_for(bool(contract.num_ws)), value=MODES[0]))  # back to Generate

    @user_errors
    def do_generate(model_id: str, seed_value: float, n: float, psi_value: float, cutoff_value: float,
                    noise_mode: str, tx: float, ty: float, degrees: float, class_name: str | None,
                    session: list[str] | None, request: gr.Request,
                    progress: gr.Progress = gr.Progress()) -> tuple[str, list[str], dict[str, Any]]:
        spec = _spec(model_id, session)
        load_with_progress(studio, spec, None, progress)
        contract = studio.load(spec.id).contract
        moved = contract.input_transform and (float(tx or 0), float(ty or 0), float(degrees or 0)) != (0, 0, 0)
        results = generate(spec.id, seed=int(seed_value or 0), n=int(n or 1), truncation=_psi(psi_value),
                           label=_label(class_name),
                           truncation_cutoff=_cutoff(cutoff_value, contract.num_ws),
                           noise_mode=noise_mode if contract.noise_modes else None,
                           translate=(float(tx or 0), float(ty or 0)) if moved else None,
                           rotate=float(degrees or 0) if moved else None,
                           progress=progress_fn(progress, start=0.1))
        paths = [_save(request, f"{spec.id}_seed{r.params['seed']}", r) for r in results]
        return paths[0], paths, results[0].params

    @user_errors
    def do_mix(model_id: str, rows_text: str, cols_text: str, layer_group: str, psi_value: float,
               cutoff_value: float, noise_mode: str, class_name: str | None, session: list[str] | None,
               request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[str, list[str], dict[str, Any]]:
        spec = _spec(model_id, session)
        row_seeds, col_seeds = parse_seeds(rows_text, "row seeds"), parse_seeds(cols_text, "column seeds")
        load_with_progress(studio, spec, None, progress)
        contract = studio.load(spec.id).contract
        mix = style_mix(spec.id, row_seeds=row_seeds, col_seeds=col_seeds, layers=layer_group, label=_label(class_name),
                        truncation=_psi(psi_value), truncation_cutoff=_cutoff(cutoff_value, contract.num_ws),
                        noise_mode=noise_mode if contract.noise_modes else None,
                        progress=progress_fn(progress, start=0.1))
        grid = _save(request, f"{spec.id}_mix_{layer_group}", mix.grid)
        cells = [_save(request, f"{spec.id}_row{r}_col{c.params['style_seed']}", c)
                 for r, row in zip(row_seeds, mix.cells) for c in row]
        return grid, cells, mix.grid.params

    @user_errors
    def do_preview(model_id: str, seed_value: float, layer_group: str, psi_value: float, noise_mode: str,
                   session: list[str] | None, request: gr.Request,
                   progress: gr.Progress = gr.Progress()) -> tuple[str, list[str], dict[str, Any]]:
        spec = _spec(model_id, session)
        load_with_progress(studio, spec, None, progress)
        contract = studio.load(spec.id).contract
        strip = directions(spec.id, seed=int(seed_value or 0), k=N_SLIDERS, layers=layer_group,
                           truncation=_psi(psi_value), noise_mode=noise_mode if contract.noise_modes else None,
                           progress=progress_fn(progress, start=0.1))
        path = _save(request, f"{spec.id}_directions_seed{int(seed_value or 0)}", strip)
        return path, [path], strip.params

    @user_errors
    def do_edit(model_id: str, seed_value: float, layer_group: str, psi_value: float, noise_mode: str,
                a1: float, a2: float, a3: float, a4: float, a5: float, use_photo: bool,
                projected_ws: dict[str, Any] | None, session: list[str] | None,
                request: gr.Request) -> tuple[str, list[str], dict[str, Any]]:
        import torch

        amounts = [float(a or 0) for a in (a1, a2, a3, a4, a5)]  # one per slider (N_SLIDERS)
        spec = _spec(model_id, session)
        contract = studio.load(spec.id).contract
        ws = None
        if use_photo:
            if not projected_ws or projected_ws.get("model") != spec.id:
                raise UserInputError(f"no photo projected into {spec.id!r} yet: project one under 'Your photo' first")
            ws = torch.tensor(projected_ws["ws"], dtype=torch.float32)
        res = edit(spec.id, seed=int(seed_value or 0), amounts=amounts, k=N_SLIDERS, layers=layer_group,
                   truncation=_psi(psi_value), noise_mode=noise_mode if contract.noise_modes else None, ws=ws)
        path = _save(request, f"{spec.id}_edit_seed{int(seed_value or 0)}", res)
        return path, [path], res.params

    @user_errors
    def do_interpolate(model_id: str, seed_a: float, seed_b_value: float, n_frames: float, psi_value: float,
                       noise_mode: str, class_name: str | None, session: list[str] | None, request: gr.Request,
                       progress: gr.Progress = gr.Progress()) -> tuple[str, list[str], dict[str, Any]]:
        from ..image_io import frames_to_gif

        spec = _spec(model_id, session)
        load_with_progress(studio, spec, None, progress)
        contract = studio.load(spec.id).contract
        results = w_interpolate(spec.id, seed_a=int(seed_a or 0), seed_b=int(seed_b_value or 0), label=_label(class_name),
                                frames=int(n_frames or 8), truncation=_psi(psi_value),
                                noise_mode=noise_mode if contract.noise_modes else None,
                                progress=progress_fn(progress, start=0.1, end=0.9))
        folder = store.call_dir(request)
        paths = [store.save_png(folder, f"{spec.id}_w_frame{i:03d}", r.image, r.params) for i, r in enumerate(results)]
        gif = folder / f"{spec.id}_w_interpolation.gif"
        gif.write_bytes(frames_to_gif([r.image for r in results]))
        return str(gif), paths, results[0].params

    @user_errors
    def do_project(model_id: str, upload: Any, n_steps: float, projection_space: str, session: list[str] | None,
                   request: gr.Request, progress: gr.Progress = gr.Progress()
                   ) -> tuple[str, list[str], dict[str, Any], dict[str, Any]]:
        if project is None:
            raise UserInputError("photo projection is switched off on this server")
        spec = _spec(model_id, session)
        image = read_upload(upload, what="a photo")
        number = int(n_steps or 0)
        if not 1 <= number <= max_projection_steps:
            raise UserInputError(f"steps must be between 1 and {max_projection_steps}, got {number}")
        load_with_progress(studio, spec, None, progress)
        key = getattr(request, "session_hash", None) or "anonymous"
        stop = stops[key] = threading.Event()
        # stop (keeping the best styles so far) before the server's time limit would end the call
        timer = threading.Timer(event_time_limit() * 0.85, stop.set)
        timer.daemon = True
        timer.start()
        try:
            found = project(spec.id, image, steps=number, space=projection_space or "w", stop=stop,
                            progress=progress_fn(progress, start=0.05))
        finally:
            timer.cancel()
            stops.pop(key, None)
        gr.Info(f"projected with the {found.result.params.get('loss')} loss in {len(found.losses)} steps"
                + (" (stopped early)" if found.stopped else ""))
        folder = store.call_dir(request)
        result_path = store.save_png(folder, f"{spec.id}_projected", found.result.image, found.result.params)
        target_path = store.save_png(folder, f"{spec.id}_target", found.target,
                                     {"mode": "projection-target", "model": spec.id, "ai_generated": False})
        params = {**found.result.params, "stopped": found.stopped}
        return result_path, [target_path, result_path], params, {"model": spec.id, "ws": found.ws.tolist()}

    def do_stop(request: gr.Request) -> None:
        flag = stops.get(getattr(request, "session_hash", None) or "anonymous")
        if flag is not None:
            flag.set()

    def show_mode(choice: str) -> list[Any]:
        return [gr.update(visible=choice == m) for m in MODES]

    model.change(controls, [model, session_models], [info, cutoff, noise, transform_group, label, mode],
                 api_name="style_controls",
                 api_visibility="undocumented", concurrency_id="gpu")
    mode.change(show_mode, mode, groups, api_name="style_mode", api_visibility="undocumented",
                concurrency_limit=None, show_progress="hidden")
    outputs = [result, gallery, params]
    run_generate.click(gpu(do_generate), [model, seed, count, psi, cutoff, noise, shift_x, shift_y, rotate,
                                          label, session_models], outputs,
                       api_name="style_generate", concurrency_id="gpu")
    run_mix.click(gpu(do_mix), [model, rows, cols, layers, psi, cutoff, noise, label, session_models], outputs,
                  api_name="style_mix", concurrency_id="gpu")
    run_preview.click(gpu(do_preview), [model, seed, dir_layers, psi, noise, session_models], outputs,
                      api_name="style_directions", concurrency_id="gpu")
    run_edit.click(gpu(do_edit), [model, seed, dir_layers, psi, noise, *sliders, edit_photo, projected,
                                  session_models], outputs,
                   api_name="style_edit", concurrency_id="gpu")
    run_interp.click(gpu(do_interpolate), [model, seed, seed_b, frames, psi, noise, label, session_models], outputs,
                     api_name="style_interpolate", concurrency_id="gpu")
    run_project.click(gpu(do_project, duration=300), [model, photo, steps, space, session_models],
                      [*outputs, projected], api_name="style_project", concurrency_id="gpu")
    stop_project.click(do_stop, None, None, api_name="style_stop", concurrency_limit=None, show_progress="hidden")
    return StyleTab(model, info, mode, result, gallery, params, sends)
