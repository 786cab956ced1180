"""The Gradio studio: :func:`build_demo` lays out the tabs over a :class:`~gan_studio.studio.Studio`.

Importing this package imports gradio but loads no model; building the demo loads none either
(models load on first use, with a progress bar). One module per tab (``generate``, ``translate``,
``colorize``, ``models``, ``inspect``), each a function that receives the callables it needs.

>>> from gan_studio.studio import Studio                              # doctest: +SKIP
>>> demo = build_demo(Studio(device="cpu"))                           # doctest: +SKIP
>>> demo.launch(**launch_options())                                   # doctest: +SKIP

Every event has an ``api_name``; the main ones are ``generate``, ``interpolate``, ``translate``,
``colorize``, ``inspect``, ``model_card`` and ``add_model`` (see the README for gradio_client).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..registry import Task
from .colorize import build_colorize_tab
from .common import COLORIZE_TASKS, GENERATE_TASKS, TRANSLATE_TASKS, ModelAccess, OutputStore
from .examples import EXAMPLES_DIR, colorize_examples, inspect_examples, translate_examples
from .generate import build_generate_tab
from .inspect import build_inspect_tab
from .models import build_models_tab
from .translate import build_translate_tab

__all__ = ["build_demo", "launch_options", "EXAMPLES_DIR"]

logger = logging.getLogger(__name__)

CSS = """
#generate-gallery img, #inspect-input img, #interpolate-gif img { image-rendering: pixelated; }
#inspect-input img { width: 100%; height: 100%; object-fit: contain; }
.model-info { font-size: 0.9em; opacity: 0.85; }
#dice { align-self: end; }
footer { opacity: 0.7; }
"""

INTRO = (
    "# GAN Studio\n"
    "Generate images from seeds, translate photos (photo ↔ sketch, attribute edits), colorize black-and-white "
    "photos, and read back how any studio PNG was made. Every PNG you download carries its parameters "
    "(model, revision, seed, …) and is marked as AI-generated."
)


@contextlib.contextmanager
def _examples_cache(folder: Path) -> Iterator[None]:
    """Cache this demo's examples in ``folder`` (fresh per run, so results never go stale when the
    models change), unless the user chose a folder with ``GRADIO_EXAMPLES_CACHE``."""
    if os.environ.get("GRADIO_EXAMPLES_CACHE"):
        yield
        return
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(folder)
    try:
        yield
    finally:
        os.environ.pop("GRADIO_EXAMPLES_CACHE", None)


def build_demo(studio: Any, *, public: bool = False, output_dir: str | os.PathLike[str] | None = None) -> gr.Blocks:
    """The studio's ``gr.Blocks`` over ``studio`` (a :class:`~gan_studio.studio.Studio`).

    ``public=True`` is for shared deployments (Spaces): no adding models, only registered model ids
    are accepted by any endpoint, and smaller batch limits. ``output_dir`` is where the PNGs are
    written (one folder per session and call, deleted when the session's tab closes); by default
    a fresh folder in the system temp dir, created on first use and removed at exit. The queue is
    configured (``api_open=False``: direct HTTP calls cannot skip it). No model is loaded here.
    """
    import tempfile
    import uuid

    if output_dir:
        root = Path(output_dir)
    else:  # ephemeral: removed when the process exits (users download what they keep)
        root = Path(tempfile.gettempdir()) / f"gan_studio-{uuid.uuid4().hex[:12]}"
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    store = OutputStore(root)
    access = ModelAccess(studio, public=public)
    registry = studio.registry

    from ..pipelines.generation import frames_to_gif

    def forget_session(request: gr.Request) -> None:
        store.forget(request)

    # delete_cache: every hour, drop Gradio's copies of served files older than a day
    with _examples_cache(root / "cached_examples"), \
            gr.Blocks(title="GAN Studio", delete_cache=(3600, 24 * 3600)) as demo:
        session_models = gr.State([])
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Tabs(selected="generate") as tabs:
            with gr.Tab("Generate", id="generate", elem_id="tab-generate"):
                gen = build_generate_tab(
                    access=access, store=store, session_models=session_models,
                    generate=studio.generate, interpolate=studio.interpolate, frames_to_gif=frames_to_gif,
                    max_images=16 if public else 64, max_frames=32 if public else 120,
                )
            with gr.Tab("Translate", id="translate", elem_id="tab-translate"):
                tr = build_translate_tab(
                    access=access, store=store, session_models=session_models,
                    translate=studio.translate, translate_attributes=studio.translate_attributes,
                    examples=translate_examples(registry, access.ids(TRANSLATE_TASKS)),
                )
            with gr.Tab("Colorize", id="colorize", elem_id="tab-colorize"):
                col = build_colorize_tab(
                    access=access, store=store, session_models=session_models, colorize=studio.colorize,
                    examples=colorize_examples(access.ids(COLORIZE_TASKS)),
                )
            with gr.Tab("Models", id="models", elem_id="tab-models"):
                build_models_tab(
                    access=access, session_models=session_models,
                    refresh=[(gen.model, GENERATE_TASKS), (tr.model, TRANSLATE_TASKS), (col.model, COLORIZE_TASKS)],
                )
            with gr.Tab("Inspect", id="inspect", elem_id="tab-inspect"):
                build_inspect_tab(
                    access=access, session_models=session_models, tabs=tabs, generate=gen, translate=tr,
                    colorize=col, examples=inspect_examples(registry),
                )
        demo.unload(forget_session)
    demo.queue(api_open=False, max_size=32 if public else 64, default_concurrency_limit=1 if public else 2)
    n_models = {t.value: len(registry.list(t)) for t in Task}
    logger.info("studio built over %d models %s (public=%s)", len(registry), n_models, public)
    return demo


def launch_options(*, public: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch()`` that belong to the studio (Gradio 6 takes the theme
    and CSS at launch): theme, CSS, upload size limit, the examples folder as an allowed path."""
    return {
        # System fonts only: the default theme fonts come from Google Fonts, which an offline
        # studio cannot reach (the page would wait for them).
        "theme": gr.themes.Soft(primary_hue="indigo", secondary_hue="amber",
                                font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                                font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]),
        "css": CSS,
        "max_file_size": "20mb" if public else "100mb",
        "allowed_paths": [str(EXAMPLES_DIR)],
    }
