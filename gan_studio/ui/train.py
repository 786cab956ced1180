"""The Train tab: sub-tabs that train GANs while you watch.

:data:`TRAIN_SUBTABS` lists the sub-tabs as ``(label, id, builder)``; a builder lays out its sub-tab
(called inside its ``gr.Tab``) and receives ``public``. Adding a sibling is one more entry.

The "Playground (2-D)" sub-tab drives a :class:`~gan_studio.training.playground.Playground` per
browser session (held in a ``gr.State``): play / pause runs a ``gr.Timer`` whose every tick trains
for at most :data:`TICK_BUDGET_S` seconds (and :data:`MAX_STEPS_PER_TICK` steps) and redraws, so a
session never holds a worker for long and ticks from many sessions take turns in the
``playground`` concurrency group. Endpoints: ``playground_reset``, ``playground_play``,
``playground_pause``, ``playground_tick``, ``playground_step``, ``playground_step_d``,
``playground_step_g``, ``playground_preset``, ``playground_upload``, ``playground_drawing``,
``playground_slow_motion``.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from ..errors import UserInputError
from ..training.playground import (
    LOSSES,
    PRESETS,
    TARGETS,
    Playground,
    PlaygroundConfig,
    get_preset,
    parse_points_csv,
    points_from_drawing,
    single_thread,
)
from ..training.playground_draw import render_curves, render_plane
from .handlers import user_errors

__all__ = ["MAX_STEPS_PER_TICK", "TICK_BUDGET_S", "TRAIN_SUBTABS", "build_playground_tab", "build_train_tab",
           "image_html"]

logger = logging.getLogger(__name__)

#: Seconds of training per timer tick (then the frame is drawn and the worker is free again).
TICK_BUDGET_S = 0.12
#: Most training steps per tick (slow motion: one).
MAX_STEPS_PER_TICK = 40
#: Seconds between ticks while playing, normal and slow motion.
TICK_INTERVAL_S = {False: 0.25, True: 0.6}
PLANE_SIZE = 420
#: The fields the controls set, in the order of the handlers' inputs.
CONTROL_FIELDS = ("target", "loss", "noise_dim", "noise", "g_depth", "g_width", "d_depth", "d_width", "activation",
                  "g_optimizer", "d_optimizer", "g_lr", "d_lr", "d_steps", "batch_size", "seed")
DEFAULT_PRESET = "stable"

INTRO = (
    "A GAN small enough to watch: a **generator** (an MLP from noise to points in the plane) learns to imitate "
    "the **green** target points, while a **discriminator** (another MLP) learns to tell them from the "
    "generator's **purple** fakes. The background is the discriminator's verdict (green: *real*, purple: "
    "*fake*); each fake carries an arrow along the generator's gradient, the way it is pushed next; grey lines "
    "are the noise grid as the generator warps it (1-D or 2-D noise). The curves on the right are the losses, "
    "D's average output on real and fake points, a divergence between the two point clouds, and how many of "
    "the target's modes receive samples. After GAN Lab (poloclub)."
)


@dataclass
class Session:
    """One browser session's playground and its user points."""

    playground: Playground | None = None
    points: Any = None  # torch.Tensor (N, 2) for the custom target


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def config_from_controls(values: dict[str, Any], base: PlaygroundConfig | None = None) -> PlaygroundConfig:
    """A validated config from the controls' values (the rest from ``base``)."""
    cfg = (base or PlaygroundConfig()).to_dict()
    for name in CONTROL_FIELDS:
        value = values[name]
        if value is None:
            raise UserInputError(f"{name.replace('_', ' ')} is empty: enter a value")
        cfg[name] = _whole(value) if isinstance(getattr(PlaygroundConfig(), name), int) else value
        if isinstance(getattr(PlaygroundConfig(), name), float):
            cfg[name] = float(value)
    return PlaygroundConfig.from_dict(cfg)


def image_html(image: Image.Image, alt: str) -> str:
    """``image`` inline as a PNG data URL in an ``<img>``.

    Frames go to the page inline rather than as files: a playing session makes several frames a
    second, and as files each would stay in Gradio's cache (on disk) until the cache is cleaned.
    zlib level 1: the frames are flat colours, and the default level 6 took nearly twice as long here
    for 15 % fewer bytes.
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{alt}" width="{image.width}" height="{image.height}" '
            f'style="max-width: 100%; height: auto;">')


def _frame(pg: Playground) -> tuple[str, str, str]:
    with single_thread():
        snap = pg.snapshot()
    plane = image_html(render_plane(snap, PLANE_SIZE, caption=False), "the plane: real and fake samples, D's "
                       "verdict, the generator's gradient and the warped noise grid")
    curves = image_html(render_curves(snap.history, (PLANE_SIZE, PLANE_SIZE), n_modes=len(snap.modes),
                                      critic=snap.loss == "wgan-gp"),
                        "curves: losses, D(real) and D(fake), JS divergence, mode coverage")
    h = pg.history
    status = (f"**step {pg.g_updates}** (D updates {pg.d_updates}) · modes covered **{int(h['coverage'][-1])} of "
              f"{len(pg.target.modes)}** · JS divergence {h['js'][-1]:.3f} · samples near a mode "
              f"{h['quality'][-1]:.0%}")
    return plane, curves, status


def build_playground_tab(public: bool = False) -> None:
    """Lay out the 2-D playground (inside a ``gr.Tab``) and wire its events."""
    default = PRESETS[DEFAULT_PRESET].config
    first_plane, first_curves, first_status = _frame(Playground(default))  # what a fresh session sees
    gr.Markdown(INTRO, elem_classes=["model-info"])
    with gr.Row(equal_height=False):
        preset = gr.Dropdown(list(PRESETS), value=DEFAULT_PRESET, label="Preset", scale=1, elem_id="pg-preset")
        explanation = gr.Markdown(PRESETS[DEFAULT_PRESET].explanation, elem_id="pg-explanation")
    with gr.Row():
        play = gr.Button("▶ Play", variant="primary", elem_id="pg-play", min_width=80)
        pause = gr.Button("Pause", elem_id="pg-pause", min_width=80)
        step = gr.Button("Step", elem_id="pg-step", min_width=60)
        step_d = gr.Button("Step D", elem_id="pg-step-d", min_width=60)
        step_g = gr.Button("Step G", elem_id="pg-step-g", min_width=60)
        reset = gr.Button("↺ Reset", elem_id="pg-reset", min_width=60)
        slow = gr.Checkbox(False, label="Slow motion", elem_id="pg-slow", min_width=100)
    status = gr.Markdown(first_status, elem_id="pg-status")
    with gr.Row(equal_height=True):
        with gr.Column():
            plane = gr.HTML(first_plane, elem_id="pg-plane")
            gr.Markdown("<span style='color:#168c3c'>●</span> real · <span style='color:#8228aa'>●</span> fake · "
                        "background: D's verdict (green *real*, purple *fake*) · dark lines: where G's gradient "
                        "moves each fake · grey grid: the noise grid through G · circles: the target's modes",
                        elem_classes=["model-info"])
        with gr.Column():
            curves = gr.HTML(first_curves, elem_id="pg-curves")
    with gr.Accordion("Data", open=False):
        with gr.Row(equal_height=False):
            target = gr.Dropdown([(f"{k}: {v}", k) for k, v in TARGETS.items()], value=default.target,
                                 label="Target distribution", elem_id="pg-target")
            upload = gr.File(label="Upload points (CSV: x,y per line)", file_types=[".csv", ".txt"], type="filepath",
                             elem_id="pg-upload")
        with gr.Row(equal_height=False):
            drawing = gr.Sketchpad(label="Or draw points (each stroke becomes points)", type="numpy",
                                   image_mode="RGBA", canvas_size=(300, 300), elem_id="pg-draw", height=340)
            use_drawing = gr.Button("Use this drawing", elem_id="pg-use-drawing")
    with gr.Accordion("Models, losses and optimisers", open=False):
        with gr.Row():
            noise_dim = gr.Slider(1, 64, value=default.noise_dim, step=1, label="Noise dimension")
            noise = gr.Radio(["normal", "uniform"], value=default.noise, label="Noise distribution")
            activation = gr.Radio(["leaky_relu", "relu", "tanh"], value=default.activation, label="Activation")
            seed = gr.Number(value=default.seed, precision=0, minimum=0, label="Seed")
        with gr.Row():
            g_depth = gr.Slider(0, 6, value=default.g_depth, step=1, label="G hidden layers")
            g_width = gr.Slider(4, 256, value=default.g_width, step=4, label="G width")
            d_depth = gr.Slider(0, 6, value=default.d_depth, step=1, label="D hidden layers")
            d_width = gr.Slider(4, 256, value=default.d_width, step=4, label="D width")
        with gr.Row():
            loss = gr.Dropdown([(f"{k}: {v.description}", k) for k, v in LOSSES.items()], value=default.loss,
                               label="Loss", elem_id="pg-loss")
            d_steps = gr.Slider(1, 10, value=default.d_steps, step=1, label="D steps per G step")
            batch_size = gr.Slider(16, 1024, value=default.batch_size, step=16, label="Batch size")
        with gr.Row():
            g_optimizer = gr.Radio(["adam", "sgd"], value=default.g_optimizer, label="G optimiser")
            g_lr = gr.Number(value=default.g_lr, label="G learning rate", minimum=0)
            d_optimizer = gr.Radio(["adam", "sgd"], value=default.d_optimizer, label="D optimiser")
            d_lr = gr.Number(value=default.d_lr, label="D learning rate", minimum=0)
        gr.Markdown("Learning rates, loss, D steps and batch size change a running game in place; any other "
                    "setting starts it again from its seed.", elem_classes=["model-info"])
    timer = gr.Timer(TICK_INTERVAL_S[False], active=False)
    state = gr.State(None, time_to_live=3600)

    controls = {"target": target, "loss": loss, "noise_dim": noise_dim, "noise": noise, "g_depth": g_depth,
                "g_width": g_width, "d_depth": d_depth, "d_width": d_width, "activation": activation,
                "g_optimizer": g_optimizer, "d_optimizer": d_optimizer, "g_lr": g_lr, "d_lr": d_lr,
                "d_steps": d_steps, "batch_size": batch_size, "seed": seed}
    inputs = [state, preset, *(controls[name] for name in CONTROL_FIELDS)]
    outputs = [state, plane, curves, status]

    def session_and_config(session: Session | None, preset_name: str, values: tuple[Any, ...]
                           ) -> tuple[Session, PlaygroundConfig]:
        session = session if isinstance(session, Session) else Session()
        base = PRESETS[preset_name].config if preset_name in PRESETS else None
        config = config_from_controls(dict(zip(CONTROL_FIELDS, values, strict=True)), base)
        if session.playground is None:
            session.playground = Playground(config, session.points)
        else:
            session.playground.update(config)
        return session, config

    def train_for(pg: Playground, which: str, *, budget_s: float, max_steps: int) -> None:
        start = time.perf_counter()
        with single_thread():
            for _ in range(max_steps):
                pg.step(which)
                if time.perf_counter() - start > budget_s:
                    break

    def advance(which: str, steps_fn: Callable[[bool], int]) -> Callable[..., Any]:
        @user_errors
        def handler(session: Session | None, preset_name: str, *values: Any) -> Any:
            *controls_values, slow_motion = values
            session, _ = session_and_config(session, preset_name, tuple(controls_values))
            pg = session.playground
            if pg is None:  # pragma: no cover - session_and_config always makes one
                raise RuntimeError("no playground in this session")
            train_for(pg, which, budget_s=TICK_BUDGET_S, max_steps=steps_fn(bool(slow_motion)))
            return (session, *_frame(pg))

        handler.__name__ = f"playground_{which}"
        return handler

    @user_errors
    def do_reset(session: Session | None, preset_name: str, *values: Any) -> Any:
        session, config = session_and_config(session, preset_name, values)
        session.playground = Playground(config, session.points)
        return (session, *_frame(session.playground))

    @user_errors
    def do_preset(session: Session | None, preset_name: str) -> Any:
        chosen = get_preset(preset_name)
        session = session if isinstance(session, Session) else Session()
        session.playground = Playground(chosen.config, session.points)
        values = [gr.update(value=getattr(chosen.config, name)) for name in CONTROL_FIELDS]
        return (session, *_frame(session.playground), chosen.explanation, *values)

    def use_points(points: Any, session: Session | None, preset_name: str, values: tuple[Any, ...]) -> Any:
        session = session if isinstance(session, Session) else Session()
        session.points = points
        named = dict(zip(CONTROL_FIELDS, values, strict=True))
        named["target"] = "custom"
        base = PRESETS[preset_name].config if preset_name in PRESETS else None
        session.playground = Playground(config_from_controls(named, base), points)
        return (session, *_frame(session.playground), gr.update(value="custom"))

    @user_errors
    def do_upload(path: str | None, session: Session | None, preset_name: str, *values: Any) -> Any:
        if not path:
            raise UserInputError("no file uploaded: upload a CSV with one x,y pair per line")
        with open(path, "rb") as fh:
            data = fh.read(2_000_001)
        if len(data) > 2_000_000:
            raise UserInputError("the points file is larger than 2 MB; upload fewer points")
        return use_points(parse_points_csv(data), session, preset_name, values)

    @user_errors
    def do_drawing(sketch: Any, session: Session | None, preset_name: str, *values: Any) -> Any:
        layers = (sketch or {}).get("layers") or [] if isinstance(sketch, dict) else []
        image = layers[0] if layers else (sketch.get("composite") if isinstance(sketch, dict) else sketch)
        if image is None:
            raise UserInputError("the drawing is empty: draw a few strokes first")
        return use_points(points_from_drawing(image), session, preset_name, values)

    def do_slow(slow_motion: bool) -> gr.Timer:
        return gr.Timer(TICK_INTERVAL_S[bool(slow_motion)])

    group: dict[str, Any] = {"concurrency_id": "playground", "concurrency_limit": 1 if public else 2}

    def play_steps(slow_motion: bool) -> int:
        return 1 if slow_motion else MAX_STEPS_PER_TICK

    def one_step(slow_motion: bool) -> int:
        return 1

    play.click(lambda: gr.Timer(active=True), None, timer, api_name="playground_play")
    pause.click(lambda: gr.Timer(active=False), None, timer, api_name="playground_pause")
    timer.tick(advance("both", play_steps), [*inputs, slow], outputs, api_name="playground_tick",
               show_progress="hidden", trigger_mode="once", **group)
    step.click(advance("both", one_step), [*inputs, slow], outputs, api_name="playground_step", **group)
    step_d.click(advance("d", one_step), [*inputs, slow], outputs, api_name="playground_step_d", **group)
    step_g.click(advance("g", one_step), [*inputs, slow], outputs, api_name="playground_step_g", **group)
    reset.click(do_reset, inputs, outputs, api_name="playground_reset", **group)
    preset.input(do_preset, [state, preset], [*outputs, explanation, *(controls[n] for n in CONTROL_FIELDS)],
                 api_name="playground_preset", **group)
    upload.upload(do_upload, [upload, *inputs], [*outputs, target], api_name="playground_upload", **group)
    use_drawing.click(do_drawing, [drawing, *inputs], [*outputs, target], api_name="playground_drawing", **group)
    slow.change(do_slow, slow, timer, api_name="playground_slow_motion")


#: The Train tab's sub-tabs: (label, id, builder(public)). Add a sibling with one entry.
#: A builder is called inside its sub-tab with ``public`` and that ``gr.Tab`` (for its select event).
SubTabBuilder = Callable[[bool, gr.Tab], None]
TRAIN_SUBTABS: list[tuple[str, str, SubTabBuilder]] = [
    ("Playground (2-D)", "playground", lambda public, tab: build_playground_tab(public)),
]


def build_train_tab(*, public: bool = False,
                    subtabs: list[tuple[str, str, SubTabBuilder]] | None = None) -> gr.Tabs:
    """The Train tab's body (call inside a ``gr.Tab``): a ``gr.Tabs`` with one sub-tab per entry of
    ``subtabs`` (default :data:`TRAIN_SUBTABS`; the app adds "Train on images", whose builder needs
    the app's run manager)."""
    tabs: gr.Tabs
    with gr.Tabs(elem_id="train-tabs") as tabs:
        for label, tab_id, build in subtabs or TRAIN_SUBTABS:
            with gr.Tab(label, id=tab_id, elem_id=f"tab-{tab_id}") as tab:
                build(public, tab)
    return tabs

