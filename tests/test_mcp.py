"""Agents: the studio launched with its MCP tools on 127.0.0.1, driven by an MCP client (the ``mcp``
Python SDK over streamable HTTP): the tools are listed with descriptions from their docstrings and
typed parameters, generate_image returns a PNG as image content with its provenance, a studio PNG
sent to translate_image/colorize_image keeps its history, and public-mode caps apply to tool calls."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from launched_app import launch_app
from PIL import Image

from gan_studio.metadata import chain_steps, read_metadata

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:.*gr.State input.*:UserWarning")]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, app_env: pytest.MonkeyPatch) -> Iterator[Any]:
    """A public studio (the tools' caps are those of a Space) with its MCP tools."""
    launched = launch_app(tmp_path_factory.mktemp("mcp"), public=True, mcp=True)
    try:
        yield launched
    finally:
        launched.close()


async def _session(url: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[Any, list[Any]]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url.rstrip("/") + "/gradio_api/mcp/") as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
        return tools.tools, results


def _run(url: str, *calls: tuple[str, dict[str, Any]]) -> tuple[Any, list[Any]]:
    return asyncio.run(asyncio.wait_for(_session(url, list(calls)), timeout=120))


def _parts(result: Any) -> tuple[list[bytes], list[str]]:
    images = [base64.b64decode(c.data) for c in result.content if c.type == "image"]
    texts = [c.text for c in result.content if c.type == "text"]
    return images, texts


def _served_png(app: Any, texts: list[str]) -> bytes:
    """The studio file a tool result links to ("Image URL: …"): the PNG as written, provenance inside."""
    import httpx

    url = next(t for t in texts if t.startswith("Image URL:")).split(":", 1)[1].strip()
    if not url.startswith("http"):
        url = f"{app.url.rstrip('/')}/gradio_api/file={url}"
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_the_tools_are_listed_and_generate_then_translate_and_colorize_keep_the_chain(app):
    tools, results = _run(app.url, ("generate_image", {"model": "ui-dcgan", "seed": 7, "label": "", "n": 1}),
                          ("list_models", {"task": "colorize"}))
    by_name = {t.name: t for t in tools}
    assert {"list_models", "describe_image", "generate_image", "translate_image", "colorize_image",
            "upscale_image"} <= set(by_name)
    assert not any(name.startswith(("do_", "run_example")) for name in by_name)  # UI events are not tools
    generate = by_name["generate_image"]
    assert "Generate an image" in generate.description
    assert generate.inputSchema["properties"]["seed"]["type"] in ("number", "integer")
    assert "same seed" in generate.inputSchema["properties"]["seed"]["description"]
    assert set(by_name["translate_image"].inputSchema["required"]) >= {"image"}
    generated, listing = results
    assert not generated.isError, generated.content
    images, texts = _parts(generated)
    assert len(images) == 1, generated.content
    with Image.open(io.BytesIO(images[0])) as im:
        assert im.size == (16, 16)
    png = _served_png(app, texts)
    params = read_metadata(png)
    assert params["model"] == "ui-dcgan" and params["seed"] == 7
    assert [m["id"] for m in json.loads(_parts(listing)[1][0])] == ["ui-colorizer"]
    # the studio PNG sent on through two tools: the last one's provenance lists every step
    _, (translated,) = _run(app.url, ("translate_image", {"image": _data_url(png), "model": "ui-cyclegan",
                                                         "direction": "BtoA", "attributes": "", "seed": 0}))
    assert not translated.isError, translated.content
    sent = _served_png(app, _parts(translated)[1])
    _, (colorized, described) = _run(app.url,
                                     ("colorize_image", {"image": _data_url(sent), "model": "ui-colorizer",
                                                         "strength": 1.0}),
                                     ("describe_image", {"image": _data_url(sent)}))
    assert not colorized.isError, colorized.content
    final = read_metadata(_served_png(app, _parts(colorized)[1]))
    assert [s["model"] for s in chain_steps(final)] == ["ui-dcgan", "ui-cyclegan", "ui-colorizer"]
    steps = json.loads(_parts(described)[1][0])["steps"]
    assert [(s["task"], s.get("variant")) for s in steps] == [("unconditional", None), ("translation", "BtoA")]


def test_generate_then_upscale_through_the_tools(app):
    _, (generated,) = _run(app.url, ("generate_image", {"model": "ui-dcgan", "seed": 11, "label": "", "n": 1}))
    assert not generated.isError, generated.content
    png = _served_png(app, _parts(generated)[1])
    # an empty model: the studio's default upscaler (here the only one, ui-upscaler)
    _, (upscaled,) = _run(app.url, ("upscale_image", {"image": _data_url(png), "model": "", "scale": 3.5}))
    assert not upscaled.isError, upscaled.content
    images, texts = _parts(upscaled)
    with Image.open(io.BytesIO(images[0])) as im:
        assert im.size == (56, 56)  # 16 px × 3.5
    final = read_metadata(_served_png(app, texts))
    assert final["scale"] == 3.5
    assert [(s["task"], s["model"]) for s in chain_steps(final)] == [("unconditional", "ui-dcgan"),
                                                                     ("upscale", "ui-upscaler")]


def test_tool_errors_name_the_choices_and_public_caps_apply(app):
    _, (unknown, too_many) = _run(app.url,
                                  ("generate_image", {"model": "/etc/passwd", "seed": 0, "label": "", "n": 1}),
                                  ("generate_image", {"model": "ui-dcgan", "seed": 0, "label": "", "n": 50}))
    assert unknown.isError and "unknown model '/etc/passwd'" in _parts(unknown)[1][0]
    assert too_many.isError and "n must be between 1 and 4" in _parts(too_many)[1][0]
    big = io.BytesIO()
    Image.new("L", (2600, 1800), 90).save(big, format="PNG")  # 4.7 MP: above the public 4 MP cap
    _, (colorized,) = _run(app.url, ("colorize_image", {"image": _data_url(big.getvalue()),
                                                               "model": "ui-colorizer", "strength": 1.0}))
    assert not colorized.isError, colorized.content
    images, _ = _parts(colorized)
    with Image.open(io.BytesIO(images[0])) as im:
        assert im.width * im.height <= 4_000_000  # downscaled to the public cap first


def test_the_launcher_turns_mcp_on_by_flag_or_environment(monkeypatch):
    from gan_studio.app import parse_args

    monkeypatch.delenv("GAN_STUDIO_MCP", raising=False)
    assert parse_args([]).mcp is False and parse_args(["--mcp"]).mcp is True
    monkeypatch.setenv("GAN_STUDIO_MCP", "1")
    assert parse_args([]).mcp is True and parse_args(["--no-mcp"]).mcp is False


def test_an_animated_gif_goes_through_a_tool_frame_by_frame(app):
    frames = [Image.effect_mandelbrot((40, 32), (-2 + i * 0.3, -1.2, 1, 1.2), 40).convert("RGB") for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=[80, 160, 240], loop=1)
    url = "data:image/gif;base64," + base64.b64encode(buf.getvalue()).decode()
    _, (colorized,) = _run(app.url, ("colorize_image", {"image": url, "model": "ui-colorizer", "strength": 1.0}))
    assert not colorized.isError, colorized.content
    gif = _served_png(app, _parts(colorized)[1])  # the GIF as written
    with Image.open(io.BytesIO(gif)) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.info.get("loop") == 1
        durations = []
        for i in range(3):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations == [80, 160, 240]
    assert read_metadata(gif)["animation"] == {"frames": 3, "durations": [80, 160, 240], "loop": 1}
