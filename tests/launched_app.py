"""The studio launched for real on 127.0.0.1 and a ``gradio_client`` for it: one helper for every
test module that drives the launched app (test_app, test_security, test_load). The fixtures that
use it (``app_env``) are in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ui_fixtures import free_port, make_ui_models, ui_registry

#: Environment of a launched studio in the tests: offline, no analytics, no proxy for 127.0.0.1.
APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@dataclass
class App:
    """A launched studio: its ``gr.Blocks``, a client (its own session) and where files go."""

    demo: Any
    client: Any
    studio: Any
    root: Path
    downloads: Path

    @property
    def url(self) -> str:
        return self.demo.local_url

    @property
    def port(self) -> int:
        return int(self.demo.local_url.rstrip("/").rsplit(":", 1)[1])

    def new_client(self, *, download: bool = True) -> Any:
        """Another client: a separate session (``download=False``: files are not downloaded)."""
        from gradio_client import Client

        # httpx's 5 s default is too short for fetching the app's config while dozens of clients connect
        # to a busy 2-core machine; the tests time the requests themselves
        return Client(self.url, analytics_enabled=False, verbose=False, httpx_kwargs={"timeout": 60.0},
                      download_files=str(self.downloads) if download else False)

    def fn_index(self, api_name: str) -> int:
        return next(d["id"] for d in self.demo.config["dependencies"] if d.get("api_name") == api_name)

    def close(self) -> None:
        self.demo.close()


def launch_app(root: Path, *, public: bool, registry: Any = None, queue: dict[str, Any] | None = None,
               generate_concurrency: int | None = None, mcp: bool = False,
               photo_editing: bool = True) -> App:
    """The studio over ``registry`` (default: the tiny UI models, written under ``root``) launched
    on a free port of 127.0.0.1, one torch thread; ``queue`` overrides its queue settings; ``mcp``
    adds the agents' tools and serves them over MCP (needs gradio[mcp])."""
    import torch

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo, launch_options

    torch.set_num_threads(1)
    if registry is None:
        registry = ui_registry(make_ui_models(root / "models"))
    studio = Studio(device="cpu", registry=registry)
    demo = build_demo(studio, public=public, output_dir=root / "outputs", generate_concurrency=generate_concurrency,
                      mcp=mcp, photo_editing=photo_editing)
    if queue:
        demo.queue(**queue)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **({"mcp_server": True} if mcp else {}), **launch_options(public=public))
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    app = App(demo, None, studio, root, downloads)
    app.client = app.new_client()
    return app
