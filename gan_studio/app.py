"""The studio's launcher: ``gan-studio-app`` (installed) and ``python app.py`` (a checkout).

    gan-studio-app [--host 127.0.0.1] [--port 7860] [--share] [--models FILE] [--device auto|cpu|cuda]
                   [--precision auto|fp32|bf16|fp16] [--channels-last auto|on|off] [--compile]
                   [--threads N] [--warmup | --no-warmup] [--public | --no-public] [--mcp]
                   [--photo-editing | --no-photo-editing]

Runs offline: the embedded default models live under ``checkpoints/``; Hub models listed in the
catalogue or a ``--models`` file are downloaded on first use (and read from the Hugging Face cache
afterwards). On Hugging Face Spaces (``SPACE_ID`` set) and with ``--share`` (anyone with the link can
use it) the studio starts in public mode unless ``--no-public`` is given; see docs/security.md.
``--no-photo-editing`` (or ``GAN_STUDIO_PHOTO_EDITING=0``) turns off projecting and editing uploaded
photos (docs/responsible-use.md).

``--mcp`` (or ``GAN_STUDIO_MCP=1``, e.g. in a Space's settings) also serves the studio's tools to AI
agents over MCP (streamable HTTP at ``/gradio_api/mcp/``; needs ``pip install -r requirements-mcp.txt``):
``list_models``, ``generate_image``, ``translate_image``, ``colorize_image`` (see gan_studio/ui/agents.py).

Nothing heavy is imported before the arguments are parsed, so ``--help`` answers at once.
"""


from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="GAN Studio: generate, translate and colorize images with GANs in your browser.",
        epilog="Example: python app.py --port 7861 --models my_models.toml",
    )
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1, only this machine; 0.0.0.0 for your network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port to listen on (default 7860)")
    parser.add_argument("--share", action="store_true",
                        help="also ask Gradio for a temporary public *.gradio.live link (needs internet; "
                             "without it the studio says so and keeps serving locally); turns on public mode "
                             "unless --no-public is given")
    parser.add_argument("--models", metavar="FILE", help="extra models from a TOML file (see README, 'Adding models')")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="where models run: auto (CUDA, then MPS, then CPU; default), cpu, cuda or mps")
    from gan_studio.runtime import add_runtime_arguments  # constants only: no torch import

    add_runtime_arguments(parser)
    parser.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=None,
                        help="after start, load the default model of each tab and run it once in the background "
                             "(default: on with CUDA or --compile, off otherwise)")
    parser.add_argument("--public", action=argparse.BooleanOptionalAction, default=None,
                        help="public deployment: no adding models, only registered model ids, smaller batches "
                             "and images (the default on Hugging Face Spaces and with --share; --no-public "
                             "turns it off)")
    parser.add_argument("--mcp", action=argparse.BooleanOptionalAction, default=None,
                        help="also serve the studio's tools (list_models, describe_image, generate_image, "
                             "translate_image, colorize_image, upscale_image) to AI agents over MCP at "
                             "/gradio_api/mcp/ (needs gradio[mcp]: pip install -r requirements-mcp.txt); "
                             "default: on when GAN_STUDIO_MCP=1")
    parser.add_argument("--photo-editing", action=argparse.BooleanOptionalAction, default=None,
                        help="allow projecting uploaded photos into a StyleGAN and editing them (default: on; "
                             "--no-photo-editing or GAN_STUDIO_PHOTO_EDITING=0 turns it off, e.g. for a public "
                             "deployment; see docs/responsible-use.md)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    args = parser.parse_args(argv)
    if args.mcp is None:
        args.mcp = os.environ.get("GAN_STUDIO_MCP", "").strip().lower() in ("1", "true", "yes", "on")
    if args.photo_editing is None:
        args.photo_editing = os.environ.get("GAN_STUDIO_PHOTO_EDITING", "1").strip().lower() not in ("0", "off", "false", "no")
    if args.public is None:  # a share link or a Space is reachable by anyone: public unless told otherwise
        args.public = bool(os.environ.get("SPACE_ID")) or args.share
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:  # on Spaces (ZeroGPU) `spaces` must be imported before CUDA is initialised
        import spaces  # noqa: F401
    except ImportError:
        pass

    from gan_studio.errors import GanStudioError
    from gan_studio.runtime import runtime_kwargs
    from gan_studio.studio import Studio

    try:
        studio = Studio(models_file=args.models, device=args.device, **runtime_kwargs(args))
    except GanStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from gan_studio.ui import build_demo, launch_options

    if args.mcp:
        from gan_studio.ui.agents import mcp_available

        if not mcp_available():
            print("error: --mcp needs Gradio's MCP extra: pip install -r requirements-mcp.txt "
                  "(or pip install 'gan_studio[mcp]')", file=sys.stderr)
            return 2
    demo = build_demo(studio, public=args.public, mcp=args.mcp, photo_editing=args.photo_editing)
    warmup = args.warmup if args.warmup is not None else (studio.device.type == "cuda" or args.compile)
    if warmup:  # in the background: the page is served meanwhile
        import threading

        threading.Thread(target=studio.warm_up, name="gan-studio-warmup", daemon=True).start()
    print(f"GAN Studio: {len(studio.registry)} models on {studio.device}"
          f"{' (public mode)' if args.public else ''}{'' if args.photo_editing else ', photo editing off'}; open http://{args.host}:{args.port}/"
          + (" — asking Gradio for a share link too" if args.share else "")
          + (f"; MCP tools at http://{args.host}:{args.port}/gradio_api/mcp/" if args.mcp else ""))
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, mcp_server=args.mcp,
                    **launch_options(public=args.public))
    except OSError as exc:  # port taken, address not available
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}; try another --port", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
