"""The launched Gradio app on 127.0.0.1 and its clients: ``gradio_client`` and Gradio's REST API
(upload, call, event stream, output downloads), timed round trips, concurrent clients, and both
clients' own overhead on a bare echo app."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .cases import input_photo
from .measure import timed_interleaved


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_models_toml(tmp: Path, cases: list[dict[str, Any]]) -> Path:
    lines = []
    seen = set()
    for case in cases:
        folder = case["folder"]
        if folder in seen:
            continue
        seen.add(folder)
        lines += ["[[model]]", f'id = "bench-{folder.name}"', f'path = "{folder}"', ""]
    path = tmp / "bench_models.toml"
    path.write_text("\n".join(lines))
    return path


def launch_app(tmp: Path, cases: list[dict[str, Any]], device: str, *, shipped: bool = False) -> tuple[Any, Any]:
    """The studio's Gradio app over the cases' models on 127.0.0.1: in fp32 like the reference, or
    ``shipped`` with the automatic runtime."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo

    runtime = {} if shipped else {"precision": "fp32", "channels_last": "off"}
    studio = Studio(models_file=str(write_models_toml(tmp, cases)), device=device, **runtime)
    demo = build_demo(studio)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.gan_studio = studio  # for the batching comparison
    return Client(demo.local_url, verbose=False), demo


class HttpApp:
    """The launched app through Gradio's documented REST API (``/gradio_api/upload``,
    ``/gradio_api/call/<api_name>`` and its event stream, then the output files), with one
    keep-alive ``httpx`` client and one session, as a browser tab has: what a browser's request
    costs (a call without a session makes Gradio set up a new session state each time).
    ``gradio_client`` adds its own polling (every 50 ms), measured apart on a bare echo app."""

    def __init__(self, url: str) -> None:
        import uuid

        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=120)
        self.session_hash = uuid.uuid4().hex[:11]

    def upload(self, path: Path) -> dict[str, Any]:
        with open(path, "rb") as f:
            response = self.http.post(f"{self.url}/gradio_api/upload", files={"files": f})
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list[Any], *, download: bool = True) -> Any:
        response = self.http.post(f"{self.url}/gradio_api/call/{api_name}",
                                  json={"data": data, "session_hash": self.session_hash})
        response.raise_for_status()
        event_id = response.json()["event_id"]
        event = out = None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{api_name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: ") and event in ("complete", "error"):
                    out = json.loads(line[len("data: "):])
                    if event == "error":
                        raise RuntimeError(f"{api_name} failed: {out}")
                    break
        if download:
            for url in sorted(set(self._urls(out))):
                self.http.get(url).raise_for_status()
        return out

    @classmethod
    def _urls(cls, obj: Any) -> Iterator[str]:
        if isinstance(obj, dict):
            if obj.get("url"):
                yield obj["url"]
            else:
                for value in obj.values():
                    yield from cls._urls(value)
        elif isinstance(obj, list):
            for value in obj:
                yield from cls._urls(value)


def _app_inputs(case: dict[str, Any]) -> Path:
    inputs = Path(tempfile.gettempdir()) / "gan_studio_bench"
    inputs.mkdir(exist_ok=True)
    kind = "grey" if case["kind"] == "colorize" else "photo"
    path = inputs / f"{kind}_{case['size']}.png"
    if not path.exists():
        photo = input_photo(case["size"])
        (photo.convert("L") if kind == "grey" else photo).save(path)
    return path


def app_call_time(client: Any, http: HttpApp | None, case: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median seconds of one call through the launched app: with gradio_client (``app``) and with
    the REST API (``app_http``), uploads and output downloads included, timed in turns."""
    from gradio_client import handle_file

    model_id = f"bench-{case['folder'].name}"
    calls: dict[str, Callable[[], Any]] = {}
    if case["kind"] == "generate":
        args = [model_id, 0, case["batch"], case.get("label"), case.get("truncation") or 0]
        calls["app"] = lambda: client.predict(*args, api_name="/generate")
        if http is not None:
            calls["app_http"] = lambda: http.call("generate", args)
    else:
        path = _app_inputs(case)
        if case["kind"] == "colorize":
            calls["app"] = lambda: client.predict(handle_file(str(path)), model_id, case["size"], api_name="/colorize")
            if http is not None:
                calls["app_http"] = lambda: http.call("colorize", [http.upload(path), model_id, case["size"]])
        else:  # translation, or StarGAN's attributes (the bench model has no exclusive groups)
            attributes = ["Blond_Hair", "Male"] if case["kind"] == "multidomain" else []
            calls["app"] = lambda: client.predict(image=handle_file(str(path)), model=model_id,
                                                  attributes=attributes, working_size=case["size"],
                                                  full_resolution=False, api_name="/translate")
            if http is not None:
                calls["app_http"] = lambda: http.call(
                    "translate", [http.upload(path), model_id, None, attributes, None, None, None, 0, case["size"],
                                  False])
    try:
        return timed_interleaved(calls, repeats=repeats)
    except Exception as exc:  # noqa: BLE001 - the app's API may differ; report, don't crash the run
        print(f"  app call for {case['name']} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return {}


def client_floor(repeats: int) -> dict[str, float]:
    """Seconds per call of a bare Gradio app that echoes a string: the clients' own overhead."""
    import gradio as gr
    from gradio_client import Client

    with gr.Blocks() as echo_app:
        box, out, button = gr.Textbox(), gr.Textbox(), gr.Button()
        button.click(lambda x: x, box, out, api_name="echo")
    echo_app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client, http = Client(echo_app.local_url, verbose=False), HttpApp(echo_app.local_url)
        return timed_interleaved({"gradio_client": lambda: client.predict("hi", api_name="/echo"),
                                  "http": lambda: http.call("echo", ["hi"])}, repeats=repeats)
    finally:
        echo_app.close()


def concurrency(url: str, model_id: str, *, clients: int, requests: int) -> dict[str, Any]:
    """Images/second for one-image generate requests to one model: ``clients`` concurrent clients
    against one client in sequence, through the REST API and through gradio_client."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    def through_http(c: HttpApp, i: int) -> Any:
        return c.call("generate", [model_id, i, 1, None, 0])

    def through_client(c: Any, i: int) -> Any:
        return c.predict(model_id, i, 1, None, 0, api_name="/generate")

    out: dict[str, Any] = {}
    for name, factory, call in (("http", lambda: HttpApp(url), through_http),
                                ("gradio_client", lambda: Client(url, verbose=False), through_client)):
        one = factory()
        call(one, 0)  # warm
        t0 = time.perf_counter()
        for i in range(clients * requests):
            call(one, i)
        sequential = clients * requests / (time.perf_counter() - t0)
        pool = [factory() for _ in range(clients)]

        def work(k: int, pool: list[Any] = pool, call: Callable[[Any, int], Any] = call) -> None:
            for i in range(requests):
                call(pool[k], k * requests + i)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(work, range(clients)))
        parallel = clients * requests / (time.perf_counter() - t0)
        out[name] = {"sequential_img_s": sequential, "concurrent_img_s": parallel, "speedup": parallel / sequential}
    return out
