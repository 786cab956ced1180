"""The studio's tools for AI agents, served over MCP by Gradio's MCP server (``python app.py --mcp``,
or ``GAN_STUDIO_MCP=1``; needs ``gradio[mcp]``, see requirements-mcp.txt).

Each tool is one hidden, typed event with its own function, so Gradio names the tool after the
function and describes it from the docstring (its ``Args:``) and the components' types:
``list_models``, ``describe_image`` (an image's provenance and chain), ``generate_image``,
``translate_image``, ``colorize_image`` and ``upscale_image``. Image inputs arrive as ``data:``
base64 strings or http(s) URLs (Gradio's MCP server turns them into an upload) and are decoded by
the studio's hardened reader; an image tool's one output is the studio PNG (provenance inside), which the MCP server returns as
base64 image content (re-encoded: without the text chunks) plus the file's URL (the PNG as written).
One output per tool: with several, Gradio's MCP server returns them as one text when the client asks
for no progress notifications.

The tools run under the same rules as the tabs: in public mode only registered model ids, the
image and working-size caps (:class:`~gan_studio.ui.session.ImageLimits`), the per-event time limit,
and the ``gpu`` queue group. The UI's own events stay callable by ``gradio_client`` but are not
listed as MCP tools (:func:`only_agent_tools`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..contract import JOBS, Task
from ..errors import UserInputError
from .chain import run_on_upload, save_outputs
from .components import UploadImage
from .handlers import gpu, load_with_progress, user_errors
from .session import ImageLimits, ModelAccess, OutputStore

if TYPE_CHECKING:  # pragma: no cover
    from ..studio import Studio

logger = logging.getLogger(__name__)

__all__ = ["AGENT_TOOLS", "MCP_ENV", "add_agent_tools", "mcp_available", "only_agent_tools"]

#: The environment variable that turns the MCP server on (``1``/``true``), e.g. on Spaces.
MCP_ENV = "GAN_STUDIO_MCP"
#: The api names of the agents' tools (the tool names are their functions' names).
AGENT_TOOLS = ("list_models", "describe_image", "generate_image", "translate_image", "colorize_image",
               "upscale_image")
#: Most images one ``generate_image`` call makes, by public mode.
MAX_TOOL_IMAGES = {False: 8, True: 4}


def mcp_available() -> bool:
    """Whether Gradio's MCP server can run here (the ``mcp`` package of ``gradio[mcp]`` is installed)."""
    import importlib.util

    return importlib.util.find_spec("mcp") is not None


def _image_in(label: str) -> UploadImage:
    return UploadImage(type="filepath", image_mode=None, label=label, sources=["upload"])


def add_agent_tools(studio: Studio, *, access: ModelAccess, store: OutputStore, limits: ImageLimits,
                    public: bool = False) -> list[str]:
    """Add the agents' tools to the ``gr.Blocks`` being built (call inside it); returns their api names."""
    translate = limits.wrap(studio.translate)
    colorize = limits.wrap(studio.colorize)
    upscale = limits.wrap(studio.upscale)
    names: list[str] = []
    max_images = MAX_TOOL_IMAGES[public]

    def default(job: str) -> str:
        return (studio.default_model(job, access.ids(JOBS[job])) or "") if access.ids(JOBS[job]) else ""

    def image_result(image: str, run: Callable[[Any], Any], what: str, prefix: str) -> str:
        """Run an image tool on its decoded upload (frame by frame for a GIF) and save the result."""
        done = run_on_upload(image, run, limits=limits, what=what)
        (_, after), _ = save_outputs(store, store.call_dir(None), prefix, done, source=image)
        return after

    def image_tool(fn: Callable[..., str], inputs: list[Any]) -> None:
        """One hidden event per image tool, named after its function, in the ``gpu`` queue group."""
        btn = gr.Button(visible=False)
        btn.click(gpu(fn), inputs, image_out, api_name=fn.__name__, concurrency_id="gpu")
        names.append(fn.__name__)

    with gr.Column(visible=False, elem_id="agent-tools"):
        # ---- list_models -----------------------------------------------------------------------
        task_in = gr.Textbox(value="", label="task")
        models_out = gr.Textbox(label="models")  # JSON text (a gr.JSON output reaches MCP as a Python repr)

        def list_models(task: str) -> str:
            """List the models this studio can run, with what each does.

            Args:
                task: Only models of this job or task: "generate", "translate", "colorize" (jobs), or a task such as "conditional", "translation", "multidomain", "colorization"; empty for all.

            Returns:
                JSON: one entry per model with id, task, description, labels (a conditional model's classes or a multidomain model's attributes), variants (a two-way translator's directions), image size and licence.
            """
            wanted = (task or "").strip()
            tasks: Sequence[Task]
            if not wanted:
                tasks = tuple(Task)
            elif wanted in JOBS:
                tasks = JOBS[wanted]
            else:
                try:
                    tasks = (Task(wanted),)
                except ValueError:
                    raise gr.Error(f"unknown task {wanted!r}; choose one of: "
                                   f"{', '.join([*JOBS, *(t.value for t in Task)])}", print_exception=False) from None
            return json.dumps([studio.registry.get(i).summary() for i in access.ids(tasks)], ensure_ascii=False)

        btn = gr.Button(visible=False)
        btn.click(list_models, task_in, models_out, api_name="list_models", concurrency_limit=None,
                  show_progress="hidden")
        names.append("list_models")

        # ---- describe_image --------------------------------------------------------------------
        desc_image = _image_in("image")
        desc_out = gr.Textbox(label="provenance")  # JSON text

        @user_errors
        def describe_image(image: str) -> str:
            """Read how a studio image was made: its provenance, with every earlier step of a chain.

            Args:
                image: A PNG or GIF made by this studio, as a data: URL (base64) or an http(s) URL.

            Returns:
                JSON: the provenance, model, revision, task and parameters of the last step, and under "steps" every step oldest first (what made the input of each next one).
            """
            from ..metadata import chain_steps, read_metadata

            if image in (None, ""):
                raise UserInputError("no image given: pass a studio PNG or GIF")
            params = read_metadata(str(image))
            described = {**{k: v for k, v in params.items() if k != "chain"}, "steps": chain_steps(params)}
            return json.dumps(described, ensure_ascii=False)

        btn = gr.Button(visible=False)
        btn.click(describe_image, desc_image, desc_out, api_name="describe_image", concurrency_limit=None,
                  show_progress="hidden")
        names.append("describe_image")

        # ---- generate_image --------------------------------------------------------------------
        gen_model = gr.Textbox(value=default("generate"), label="model")
        gen_seed = gr.Number(value=0, precision=0, label="seed")
        gen_label = gr.Textbox(value="", label="label")
        gen_n = gr.Number(value=1, precision=0, label="n")
        image_out = gr.Image(label="image", type="filepath", format="png")

        @user_errors
        def generate_image(model: str, seed: float, label: str, n: float,
                           progress: gr.Progress = gr.Progress()) -> str:
            """Generate an image with a GAN (or diffusion) generator from a seed.

            Args:
                model: A generator's id (see list_models with task "generate"), e.g. "digits-cgan".
                seed: The seed (0 or more); the same seed, model and label always give the same image.
                label: A class name or index for class-conditional models (see the model's labels); empty to draw one from the seed.
                n: How many images (seeds seed, seed+1, ...) side by side in one grid image.

            Returns:
                The PNG, with its provenance inside (model, revision, seed, label and every other parameter; read it with describe_image).
            """
            from ..image_io import make_grid

            spec = access.spec(model, JOBS["generate"], None, tab="Generate")
            first = int(seed or 0)
            count = int(n or 1)
            if first < 0:
                raise UserInputError(f"seed must be 0 or more, got {first}")
            if not 1 <= count <= max_images:
                raise UserInputError(f"n must be between 1 and {max_images}, got {count}")
            load_with_progress(studio, spec, None, progress)
            results = studio.generate(spec.id, seed=first, n=count, label=(label or None))
            params = dict(results[0].params)
            image = results[0].image
            if count > 1:
                image = make_grid([r.image for r in results])
                params.update(n=count, seeds=[r.params["seed"] for r in results],
                              labels=[r.params.get("label") for r in results])
            folder = store.call_dir(None)
            return store.save_png(folder, f"{spec.id}_seed{first}", image, params)

        btn = gr.Button(visible=False)
        btn.click(gpu(generate_image), [gen_model, gen_seed, gen_label, gen_n], image_out,
                  api_name="generate_image", concurrency_id="gpu")
        names.append("generate_image")

        # ---- translate_image -------------------------------------------------------------------
        tr_image = _image_in("image")
        tr_model = gr.Textbox(value=default("translate"), label="model")
        tr_direction = gr.Textbox(value="", label="direction")
        tr_attributes = gr.Textbox(value="", label="attributes")
        tr_seed = gr.Number(value=0, precision=0, label="seed")

        @user_errors
        def translate_image(image: str, model: str, direction: str, attributes: str, seed: float,
                            progress: gr.Progress = gr.Progress()) -> str:
            """Translate an image with an image-to-image GAN (CycleGAN, pix2pix, AnimeGAN) or change attributes with a multi-domain one (StarGAN). An animated GIF is translated frame by frame.

            Args:
                image: The input image (PNG, JPEG, WebP or GIF) as a data: URL (base64) or an http(s) URL. A studio PNG keeps its history: the result records the earlier steps.
                model: A translator's id (see list_models with task "translate").
                direction: For two-way translators, the direction (one of the model's variants, e.g. "AtoB"); empty for the model's default.
                attributes: For multi-domain models, the target attributes, comma-separated (from the model's labels); empty for translators.
                seed: Seed for models that keep dropout on at inference (0 or more).

            Returns:
                The translated image: a PNG with its provenance inside (a GIF for an animated input).
            """
            spec = access.spec(model, JOBS["translate"], None, tab="Translate")
            seed_int = int(seed or 0)
            if seed_int < 0:
                raise UserInputError(f"seed must be 0 or more, got {seed_int}")
            run: Callable[[Any], Any]
            if spec.task == Task.MULTIDOMAIN:
                chosen = [a.strip() for a in (attributes or "").split(",") if a.strip()]
                load_with_progress(studio, spec, None, progress)

                def run(source: Any) -> Any:
                    return studio.translate_attributes(spec.id, limits.fit_image(source), chosen, seed=seed_int)
            else:
                if attributes:
                    raise UserInputError(f"attributes are for multidomain models; {spec.id!r} is a translation "
                                         f"model (give a direction instead)")
                variant = (direction or None) if spec.variants else None
                spec.source_for(variant)  # a wrong direction names the valid ones
                load_with_progress(studio, spec, variant, progress)

                def run(source: Any) -> Any:
                    return translate(spec.id, source, direction=variant, seed=seed_int)

            return image_result(image, run, "an image", f"translated_{spec.id}")

        image_tool(translate_image, [tr_image, tr_model, tr_direction, tr_attributes, tr_seed])

        # ---- colorize_image --------------------------------------------------------------------
        col_image = _image_in("image")
        col_model = gr.Textbox(value=default("colorize"), label="model")
        col_strength = gr.Number(value=1.0, label="strength")

        @user_errors
        def colorize_image(image: str, model: str, strength: float,
                           progress: gr.Progress = gr.Progress()) -> str:
            """Colorize a black-and-white photo at its full resolution. An animated GIF is colorized frame by frame.

            Args:
                image: The black-and-white photo (PNG, JPEG, WebP or GIF) as a data: URL (base64) or an http(s) URL. A studio PNG keeps its history: the result records the earlier steps.
                model: A colorizer's id (see list_models with task "colorize").
                strength: Colour strength: 0 greyscale, 1 the model's colours, up to 3 more saturated.

            Returns:
                The colorized image: a PNG with its provenance inside (a GIF for an animated input).
            """
            spec = access.spec(model, JOBS["colorize"], None, tab="Colorize")
            load_with_progress(studio, spec, None, progress)

            def run(source: Any) -> Any:
                return colorize(spec.id, source, strength=1.0 if strength is None else float(strength))

            return image_result(image, run, "a black-and-white photo", f"colorized_{spec.id}")

        image_tool(colorize_image, [col_image, col_model, col_strength])

        # ---- upscale_image -----------------------------------------------------------------------
        up_image = _image_in("image")
        up_model = gr.Textbox(value=default("upscale"), label="model")
        up_scale = gr.Number(value=4.0, label="scale")

        @user_errors
        def upscale_image(image: str, model: str, scale: float,
                          progress: gr.Progress = gr.Progress()) -> str:
            """Upscale an image with a Real-ESRGAN-style super-resolution GAN, tiled so large outputs fit in memory. An animated GIF is upscaled frame by frame.

            Args:
                image: The image (PNG, JPEG, WebP or GIF) as a data: URL (base64) or an http(s) URL. A studio PNG keeps its history: the result records the earlier steps.
                model: An upscaler's id (see list_models with task "upscale"); empty for the default.
                scale: The output scale, e.g. 2, 3.5 or 4 (the model's own scale, then a high-quality resize).

            Returns:
                The upscaled image: a PNG with its provenance inside (a GIF for an animated input).
            """
            spec = access.spec(model or default("upscale"), JOBS["upscale"], None, tab="Upscale")
            load_with_progress(studio, spec, None, progress)

            def run(source: Any) -> Any:
                return upscale(spec.id, source, scale=float(scale or 4.0))

            return image_result(image, run, "an image", f"upscaled_{spec.id}")

        image_tool(upscale_image, [up_image, up_model, up_scale])
    return names


def only_agent_tools(demo: gr.Blocks, tools: Sequence[str]) -> None:
    """List only ``tools`` as MCP tools: every other event's function is marked as not a tool (the
    ``_mcp_type`` attribute Gradio's ``gr.mcp.resource``/``prompt`` decorators set, which its MCP
    server reads when listing tools). The events stay as they were for the page and ``gradio_client``."""
    for block_fn in demo.fns.values():
        fn: Any = block_fn.fn
        if block_fn.api_name not in tools and fn is not None:
            try:
                fn._mcp_type = "ui"
            except (AttributeError, TypeError):  # a builtin or bound method: cannot carry the mark
                logger.debug("event %s cannot be hidden from the MCP tool list", block_fn.api_name)
