"""Chains of tasks: a result sent on keeps the provenance of every step (metadata ``chain``), ``info``
prints the steps and the commands that reproduce them end to end (and they do), animated GIFs go
through image tasks frame by frame (frames, durations, loop count kept, within caps), and ``pipe``
runs a chain over a folder."""

from __future__ import annotations

import io
import json
import shlex

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from gan_studio.cli import main, split_pipe_steps
from gan_studio.errors import ImageInputError
from gan_studio.image_io import is_animated_gif, load_animation, load_image
from gan_studio.metadata import (
    MAX_CHAIN_STEPS,
    chain_steps,
    image_provenance,
    png_bytes,
    read_metadata,
    with_chain,
)


@pytest.fixture(scope="module")
def studio(models_toml):
    import torch

    from gan_studio.studio import Studio

    torch.set_num_threads(1)
    return Studio(models_file=models_toml, device="cpu", precision="fp32")


def _textured(size=(40, 32), shift=0):
    """A deterministic photo-like image (different per ``shift``)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    r = (np.sin((x + shift) / 3.0) * 120 + 128)
    g = (np.cos((y - shift) / 4.0) * 120 + 128)
    b = ((x * y + shift * 7) % 255)
    return Image.fromarray(np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8))


def _gif(path, frames, durations, loop):
    options = {"save_all": True, "append_images": frames[1:], "duration": durations}
    if loop is not None:
        options["loop"] = loop
    frames[0].save(path, **options)
    return path


def _gif_timing(path):
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        return im.n_frames, durations, im.info.get("loop")


# ---- provenance chains --------------------------------------------------------------------------
def test_a_result_sent_on_records_every_step_with_model_revision_and_parameters(studio):
    generated = studio.generate("tiny-dcgan", seed=5)[0]
    sent, _ = load_image(png_bytes(generated.image, generated.params), keep_alpha=True)
    assert image_provenance(sent)["seed"] == 5  # the decoder kept the studio's provenance
    translated = studio.translate("tiny-cyclegan", sent, direction="BtoA", seed=2)
    sent2, _ = load_image(png_bytes(translated.image, translated.params), keep_alpha=True)
    colorized = studio.colorize("tiny-colorizer", sent2, strength=1.5)
    stored = read_metadata(png_bytes(colorized.image, colorized.params))
    steps = chain_steps(stored)
    assert [s["task"] for s in steps] == ["unconditional", "translation", "colorization"]
    assert [s["model"] for s in steps] == ["tiny-dcgan", "tiny-cyclegan", "tiny-colorizer"]
    assert all(s["revision"] for s in steps)
    assert steps[0]["seed"] == 5 and steps[1]["variant"] == "BtoA" and steps[1]["seed"] == 2
    assert steps[2]["strength"] == 1.5
    # an input without provenance (a plain photo) starts a chain of one
    plain = studio.colorize("tiny-colorizer", _textured())
    assert "chain" not in plain.params and len(chain_steps(plain.params)) == 1


def test_the_decoder_keeps_only_the_studio_provenance_and_forged_text_is_ignored():
    info = PngInfo()
    info.add_text("gan_studio", json.dumps({"model": "m", "task": "translation", "seed": 1}))
    info.add_text("Comment", "not ours")
    buf = io.BytesIO()
    _textured().save(buf, format="PNG", pnginfo=info)
    image, _ = load_image(buf.getvalue())
    assert set(image.info) == {"gan_studio"} and image_provenance(image)["seed"] == 1
    for text in ("[1, 2]", "{not json", json.dumps({"seed": 1}), json.dumps({"model": "m", "task": 3})):
        forged = PngInfo()
        forged.add_text("gan_studio", text)
        buf = io.BytesIO()
        _textured().save(buf, format="PNG", pnginfo=forged)
        assert image_provenance(load_image(buf.getvalue())[0]) is None, text


def test_a_chain_keeps_the_latest_steps_only_up_to_its_cap():
    params = {"model": "m0", "task": "translation"}
    for i in range(1, MAX_CHAIN_STEPS + 5):
        params = with_chain({"model": f"m{i}", "task": "translation"}, params)
    steps = chain_steps(params)
    assert len(steps) == MAX_CHAIN_STEPS + 1
    assert steps[-1]["model"] == f"m{MAX_CHAIN_STEPS + 4}" and steps[0]["model"] == "m4"
    assert all("chain" not in s for s in steps)


def test_info_prints_the_chain_and_its_commands_reproduce_it_end_to_end(tmp_path, models_toml, capsys,
                                                                        monkeypatch):
    a, b, c = (tmp_path / n for n in ("a.png", "b.png", "c.png"))
    common = ["--models", models_toml, "--device", "cpu", "--precision", "fp32"]
    assert main(["generate", *common, "--model", "tiny-dcgan", "--seed", "9", "-o", str(a)]) == 0
    assert main(["translate", *common, "--model", "tiny-cyclegan", str(a), "--direction", "BtoA", "-o", str(b)]) == 0
    assert main(["colorize", *common, "--model", "tiny-colorizer", str(b), "--strength", "0.5", "-o", str(c)]) == 0
    capsys.readouterr()
    assert main(["info", str(c)]) == 0
    text = capsys.readouterr().out
    assert "made in 3 steps:" in text
    assert "1. unconditional with tiny-dcgan" in text and "2. translation with tiny-cyclegan (BtoA)" in text
    assert "3. colorization with tiny-colorizer" in text
    commands = [line.strip() for line in text.split("reproduce end to end with:")[1].splitlines() if line.strip()]
    assert len(commands) == 3
    assert commands[0].startswith("python -m gan_studio generate") and commands[0].endswith("-o step-1.png")
    assert " step-1.png " in commands[1] and commands[1].endswith("-o step-2.png")
    assert " step-2.png " in commands[2] and commands[2].endswith("-o OUT.png")
    # run them: the end result has the same pixels and the same chain
    monkeypatch.chdir(tmp_path)
    for command in commands:
        argv = shlex.split(command)[3:]  # drop "python -m gan_studio"
        # fp32 is the default precision and so is not recorded; "auto" may pick bf16 on this CPU
        assert main([*argv, "--models", models_toml, "--device", "cpu", "--precision", "fp32"]) == 0, command
    assert np.array_equal(np.asarray(Image.open(tmp_path / "OUT.png")), np.asarray(Image.open(c)))
    again = chain_steps(read_metadata(tmp_path / "OUT.png"))
    assert [s["model"] for s in again] == [s["model"] for s in chain_steps(read_metadata(c))]


# ---- animated GIFs ------------------------------------------------------------------------------
def test_an_animated_gif_goes_through_a_task_frame_by_frame_with_its_timing(tmp_path, models_toml, capsys):
    frames = [_textured(shift=9 * i) for i in range(3)]
    src = _gif(tmp_path / "in.gif", frames, [100, 250, 400], loop=2)
    assert is_animated_gif(src) and not is_animated_gif(tmp_path / "nothing.gif")
    out = tmp_path / "out.gif"
    assert main(["colorize", "--models", models_toml, "--device", "cpu", "--model", "tiny-colorizer", str(src),
                 "-o", str(out)]) == 0
    assert _gif_timing(out) == (3, [100, 250, 400], 2)
    with Image.open(out) as im:
        assert im.size == (40, 32)
    params = read_metadata(out)  # the GIF's comment
    assert params["model"] == "tiny-colorizer"
    assert params["animation"] == {"frames": 3, "durations": [100, 250, 400], "loop": 2}
    # each frame is what the task gives that frame on its own (GIF palettes aside)
    from gan_studio.studio import Studio

    single = Studio(models_file=models_toml, device="cpu").colorize("tiny-colorizer", frames[1])
    with Image.open(out) as im:
        im.seek(1)
        frame = np.asarray(im.convert("RGB"), dtype=np.int16)
    assert np.abs(frame - np.asarray(single.image.convert("RGB"), dtype=np.int16)).mean() < 12
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "-o OUT.gif" in capsys.readouterr().out
    # a GIF without a loop extension (plays once) stays so
    once = _gif(tmp_path / "once.gif", frames[:2], [70, 90], loop=None)
    assert main(["colorize", "--models", models_toml, "--device", "cpu", "--model", "tiny-colorizer", str(once),
                 "-o", str(tmp_path / "once-out.gif")]) == 0
    assert _gif_timing(tmp_path / "once-out.gif") == (2, [70, 90], None)


def test_animation_caps_are_checked_before_any_frame_is_decoded(tmp_path):
    src = _gif(tmp_path / "in.gif", [_textured(shift=i) for i in range(4)], [50] * 4, loop=0)
    animation = load_animation(src)
    assert len(animation.frames) == 4 and animation.durations == [50] * 4 and animation.loop == 0
    with pytest.raises(ImageInputError, match="4 frames; the limit is 3 frames"):
        load_animation(src, max_frames=3)
    with pytest.raises(ImageInputError, match="in all, above the limit"):
        load_animation(src, max_total_pixels=4 * 40 * 32 - 1)
    # the public studio's caps (ui.session.ImageLimits) go through the same check
    from gan_studio.ui.chain import run_on_upload
    from gan_studio.ui.session import ImageLimits

    with pytest.raises(ImageInputError, match="limit is 2 frames"):
        run_on_upload(str(src), lambda image: None, limits=ImageLimits(max_frames=2), what="a photo")


# ---- pipe ---------------------------------------------------------------------------------------
def test_pipe_runs_a_chain_over_a_folder_keeping_its_structure_and_resumes(tmp_path, models_toml, capsys):
    assert split_pipe_steps(["translate --model a | colorize", "colorize --strength 2"]) == [
        ["translate", "--model", "a"], ["colorize"], ["colorize", "--strength", "2"]]
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub" / "deeper").mkdir(parents=True)
    _textured().save(src / "one.jpg")
    _textured(shift=5).save(src / "sub" / "deeper" / "two.png")
    _gif(src / "sub" / "anim.gif", [_textured(shift=11 * i) for i in range(2)], [120, 60], loop=0)
    (src / "notes.txt").write_text("not an image")
    steps = ["translate --model tiny-cyclegan --direction BtoA", "colorize --model tiny-colorizer --strength 0.8"]
    args = ["pipe", *steps, "--input", str(src), "--out", str(out), "--models", models_toml, "--device", "cpu"]
    assert main(args) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["one.png", "sub/anim.gif", "sub/deeper/two.png"]
    steps_made = chain_steps(read_metadata(out / "sub" / "deeper" / "two.png"))
    assert [(s["task"], s["model"]) for s in steps_made] == [("translation", "tiny-cyclegan"),
                                                            ("colorization", "tiny-colorizer")]
    assert steps_made[0]["variant"] == "BtoA" and steps_made[1]["strength"] == 0.8
    assert _gif_timing(out / "sub" / "anim.gif") == (2, [120, 60], 0)
    gif_steps = chain_steps(read_metadata(out / "sub" / "anim.gif"))
    assert all(s["animation"]["frames"] == 2 for s in gif_steps)
    capsys.readouterr()
    assert main(args) == 0  # resumes: everything is there
    assert "0 written, 3 already there" in capsys.readouterr().err


def test_pipe_refuses_unknown_steps_and_whole_pipe_options_inside_a_step(tmp_path, models_toml, capsys):
    _textured().save(tmp_path / "a.png")
    base = ["--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--models", models_toml]
    assert main(["pipe", "sharpen --amount 2", *base]) == 2
    assert "unknown pipe step 'sharpen'; choose from: translate, colorize" in capsys.readouterr().err
    assert main(["pipe", "colorize --model tiny-colorizer --device cpu", *base]) == 2
    assert "give it once, after the steps" in capsys.readouterr().err
    assert main(["pipe", "colorize --model tiny-colorizer --no-such-option", *base]) == 2
    assert "options its command does not take" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
