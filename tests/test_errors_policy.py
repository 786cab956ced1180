"""User mistakes vs internal faults, through the UI's handlers and the CLI (in-process).

A :class:`~gan_studio.errors.GanStudioError` shows its message; anything else is logged with its
traceback under a short id, and the user sees only "internal error (id …): please report it".
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from ui_fixtures import make_ui_models, ui_registry

from gan_studio.errors import UserInputError

INTERNAL = re.compile(r"internal error \(id ([0-9a-f]{8})\): please report it")


def _logged_with_traceback(caplog: pytest.LogCaptureFixture, incident: str) -> logging.LogRecord:
    records = [r for r in caplog.records if incident in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    assert records[0].levelno == logging.ERROR and records[0].exc_info is not None
    return records[0]


@pytest.fixture(scope="module")
def demo_and_studio(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import torch

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("errors")
    studio = Studio(device="cpu", registry=ui_registry(make_ui_models(root / "models")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo = build_demo(studio, output_dir=root / "outputs")
    return demo, studio


def _handler(demo: Any, api_name: str) -> Any:
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


# ---- UI -------------------------------------------------------------------------------------------
def test_an_internal_fault_in_a_handler_shows_an_id_and_logs_the_traceback(
        demo_and_studio: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    demo, studio = demo_and_studio

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(studio, "load", broken)
    generate = _handler(demo, "generate")
    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error) as info:
        generate("ui-dcgan", 1, 1, None, 0, [], None, None)
    match = INTERNAL.fullmatch(info.value.message)
    assert match, info.value.message
    assert "boom" not in info.value.message
    record = _logged_with_traceback(caplog, match.group(1))
    assert isinstance(record.exc_info[1], RuntimeError) and "boom" in str(record.exc_info[1])


def test_a_plain_value_error_is_an_internal_fault_too(caplog: pytest.LogCaptureFixture) -> None:
    from gan_studio.ui.handlers import user_errors

    @user_errors
    def handler() -> None:
        raise ZeroDivisionError("division by zero")

    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error) as info:
        handler()
    match = INTERNAL.fullmatch(info.value.message)
    assert match, info.value.message
    _logged_with_traceback(caplog, match.group(1))


def test_a_user_input_error_shows_its_message(demo_and_studio: Any, caplog: pytest.LogCaptureFixture) -> None:
    demo, _ = demo_and_studio
    generate = _handler(demo, "generate")
    with caplog.at_level(logging.INFO), pytest.raises(gr.Error) as info:
        generate("ui-dcgan", -3, 1, None, 0, [], None, None)
    assert "seed" in info.value.message and "internal error" not in info.value.message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    from gan_studio.ui.handlers import user_errors

    @user_errors
    def handler() -> None:
        raise UserInputError("the <b>value</b> 7 is not allowed; choose one of: 1, 2")

    with pytest.raises(gr.Error) as info:
        handler()
    assert info.value.message == "the &lt;b&gt;value&lt;/b&gt; 7 is not allowed; choose one of: 1, 2"


# ---- CLI ------------------------------------------------------------------------------------------
def test_cli_internal_fault_exits_1_with_an_id_and_the_traceback_in_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    from gan_studio import cli

    def broken(args: Any) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_info", broken)
    with caplog.at_level(logging.ERROR):
        code = cli.main(["info", str(tmp_path / "x.png")])
    assert code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    match = re.fullmatch(r"error: " + INTERNAL.pattern, last)
    assert match, last
    record = _logged_with_traceback(caplog, match.group(1))
    assert isinstance(record.exc_info[1], ZeroDivisionError)


def test_cli_user_input_error_exits_2_with_its_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from gan_studio import cli

    def refused(args: Any) -> int:
        raise UserInputError("width must be positive, got -1")

    monkeypatch.setattr(cli, "cmd_info", refused)
    assert cli.main(["info", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: width must be positive, got -1"
    assert "Traceback" not in err
