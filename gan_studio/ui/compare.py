"""The Compare view: a GAN and a diffusion model side by side for the same class and seeds, with the
measured time per image and both models' evaluation numbers (:mod:`gan_studio.compare`).

Endpoint: ``compare``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..contract import JOBS
from .handlers import gpu, load_with_progress, progress_fn, user_errors, whole_number
from .session import ModelAccess, OutputStore

logger = logging.getLogger(__name__)

RANDOM_CLASS = "(random class per seed)"
TABLE_HEADERS = ["", "GAN", "diffusion"]


@dataclass
class CompareTab:
    """The Compare view's components."""

    gan: gr.Dropdown
    diffusion: gr.Dropdown
    label: gr.Dropdown
    seed: gr.Number
    count: gr.Slider
    steps: gr.Slider
    eval_samples: gr.Slider
    gan_gallery: gr.Gallery
    diffusion_gallery: gr.Gallery
    gan_time: gr.Markdown
    diffusion_time: gr.Markdown
    table: gr.Dataframe
    summary: gr.JSON


def _is_diffusion(access: ModelAccess, model_id: str) -> bool:
    return access.studio.registry.get(model_id).architecture == "diffusion"


def side_caption(side: Any) -> str:
    """The Markdown line under a gallery: model, steps, time per image."""
    how = "one forward pass" if side.steps is None else f"{side.steps} steps, {side.evaluations_per_image} UNet calls"
    return (f"**{side.model}** ({side.kind}, {how}) · **{side.seconds_per_image * 1000:.1f} ms per image** "
            f"(median of {len(side.timings)})")


def build_compare_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    compare: Callable[..., Any],
    session_models: gr.State | None = None,
    max_images: int = 16,
    max_eval_samples: int = 1000,
) -> CompareTab:
    """Lay out the Compare view (call inside a ``gr.Tab`` or ``gr.Group``) and wire its event.

    ``compare`` is ``functools.partial(gan_studio.compare.compare, studio)``: it takes ``gan``,
    ``diffusion``, ``label``, ``seed``, ``n``, ``steps``, ``eval_samples`` and ``progress``.
    """
    ids = access.ids(JOBS["generate"])
    gans = [i for i in ids if not _is_diffusion(access, i)]
    diffusions = [i for i in ids if _is_diffusion(access, i)]
    default_gan = "digits-cgan" if "digits-cgan" in gans else (gans[0] if gans else None)
    default_diff = "digits-diffusion" if "digits-diffusion" in diffusions else (diffusions[0] if diffusions else None)
    classes = [str(i) for i in range(10)]

    gr.Markdown(
        "GAN vs diffusion on the same digits data: the same class and seeds through both models, the time "
        "per image measured on this server (median of 3 runs after a warm-up), and both models' numbers "
        "from the evaluation module (digit classifier: requested-class accuracy, class coverage; "
        "within-class diversity; nearest-neighbour memorisation check).",
        elem_classes=["model-info"],
    )
    with gr.Row(equal_height=False):
        gan = gr.Dropdown(gans, value=default_gan, label="GAN", allow_custom_value=True, scale=2)
        diffusion = gr.Dropdown(diffusions, value=default_diff, label="Diffusion model", allow_custom_value=True,
                                scale=2)
        label = gr.Dropdown([RANDOM_CLASS, *classes], value="3", label="Class", scale=1)
        seed = gr.Number(value=0, label="Seed", precision=0, minimum=0, scale=1, info="image i uses seed + i")
    with gr.Row(equal_height=False):
        count = gr.Slider(1, max_images, value=8, step=1, label="Images per model")
        steps = gr.Slider(1, 100, value=25, step=1, label="Diffusion steps", info="DDIM, deterministic per seed")
        eval_samples = gr.Slider(0, max_eval_samples, value=100, step=10, label="Evaluation samples per model",
                                 info="0 = images and timing only; results are cached per setting")
    run = gr.Button("Compare", variant="primary", elem_id="compare-button")
    with gr.Row(equal_height=False):
        with gr.Column():
            gan_time = gr.Markdown("", elem_id="compare-gan-time")
            gan_gallery = gr.Gallery(label="GAN", columns=4, height=300, object_fit="contain", type="filepath",
                                     format="png", elem_id="compare-gan-gallery", buttons=["download", "fullscreen"])
        with gr.Column():
            diffusion_time = gr.Markdown("", elem_id="compare-diffusion-time")
            diffusion_gallery = gr.Gallery(label="Diffusion", columns=4, height=300, object_fit="contain",
                                           type="filepath", format="png", elem_id="compare-diffusion-gallery",
                                           buttons=["download", "fullscreen"])
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Quality and speed", interactive=False, elem_id="compare-table")
    with gr.Accordion("All numbers (JSON)", open=False):
        summary = gr.JSON(label="Comparison")

    @user_errors
    def do_compare(gan_id: str, diffusion_id: str, label_value: str | None, seed_value: float, n: float,
                   steps_value: float, eval_n: float, session: list[str] | None, request: gr.Request,
                   progress: gr.Progress = gr.Progress(),
                   ) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str, str, dict[str, Any], dict[str, Any]]:
        gan_spec = access.spec(gan_id, JOBS["generate"], session, tab="Compare")
        diff_spec = access.spec(diffusion_id, JOBS["generate"], session, tab="Compare")
        first = whole_number(seed_value, "seed", 0, 2**63 - 1)
        number = whole_number(n, "number of images", 1, max_images)
        n_steps = whole_number(steps_value, "steps", 1, 1000)
        n_eval = whole_number(eval_n, "evaluation samples", 0, max_eval_samples)
        for spec in (gan_spec, diff_spec):
            load_with_progress(access.studio, spec, None, progress)
        result = compare(gan=gan_spec.id, diffusion=diff_spec.id,
                         label=None if label_value in (None, "", RANDOM_CLASS) else str(label_value),
                         seed=first, n=number, steps=n_steps, eval_samples=n_eval,
                         progress=progress_fn(progress, start=0.05))
        folder = store.call_dir(request)
        galleries = []
        for side in result.sides:
            items = []
            for r in side.results:
                name = f"{side.model}_seed{r.params['seed']}"
                caption = f"seed {r.params['seed']}" + (f" · class {r.params['label']}" if r.params.get("label") else "")
                items.append((store.save_png(folder, name, r.image, r.params), caption))
            galleries.append(items)
        rows = [[str(x) for x in row] for row in result.table()]
        table_value = {"headers": ["", result.gan.model, result.diffusion.model], "data": rows}
        return (galleries[0], galleries[1], side_caption(result.gan), side_caption(result.diffusion),
                table_value, result.to_dict())

    inputs = [gan, diffusion, label, seed, count, steps, eval_samples]
    if session_models is None:
        session_models = gr.State([])
    run.click(gpu(do_compare, duration=300), [*inputs, session_models],
              [gan_gallery, diffusion_gallery, gan_time, diffusion_time, table, summary],
              api_name="compare", concurrency_id="gpu")
    return CompareTab(gan, diffusion, label, seed, count, steps, eval_samples, gan_gallery, diffusion_gallery,
                      gan_time, diffusion_time, table, summary)
