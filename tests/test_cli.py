"""``python -m gan_studio``: round trips through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image
from reference_layouts import RefResnetGenerator, TutorialDCGAN, randomize, reference_norm_layer

from gan_studio.cli import main
from gan_studio.credentials import strip_manifest
from gan_studio.metadata import read_metadata

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gan_studio", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_entry_point_help_and_models_lists_every_task():
    help_out = run_cli("--help")
    assert help_out.returncode == 0
    for command in ("models", "generate", "interpolate", "translate", "colorize", "upscale", "info", "convert"):
        assert command in help_out.stdout
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "usage:" in sub.stdout
    listed = run_cli("models", "--json")
    assert listed.returncode == 0, listed.stderr
    tasks = {row["task"] for row in json.loads(listed.stdout)}
    assert tasks == {"unconditional", "conditional", "translation", "multidomain", "colorization", "upscale"}


def test_generate_twice_gives_identical_files_and_info_prints_them(tmp_path, models_toml, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out in (a, b):
        assert main(["generate", "--models", models_toml, "--model", "tiny-cgan", "--seed", "7", "-n", "4",
                     "--label", "dog", "-o", str(out), "--device", "cpu"]) == 0
    # identical apart from the signed C2PA manifest (its signing time and signature differ per run)
    assert a.read_bytes() != b.read_bytes()
    assert strip_manifest(a.read_bytes()) == strip_manifest(b.read_bytes())
    params = read_metadata(a)
    assert params["seeds"] == [7, 8, 9, 10] and params["label"] == "dog" and params["n"] == 4
    capsys.readouterr()
    assert main(["info", str(a)]) == 0
    out = capsys.readouterr().out
    assert "tiny-cgan" in out and "seed" in out and "--seed 7 -n 4" in out and "--label dog" in out


def test_outputs_are_never_overwritten_silently(tmp_path, models_toml, capsys):
    out = tmp_path / "x.png"
    args = ["generate", "--models", models_toml, "--model", "tiny-dcgan", "-o", str(out), "--device", "cpu"]
    assert main(args) == 0
    before = out.read_bytes()
    assert main(args + ["--seed", "3"]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(args + ["--seed", "3", "--overwrite"]) == 0
    assert out.read_bytes() != before


def test_separate_files_and_interpolation_gif(tmp_path, models_toml):
    assert main(["generate", "--models", models_toml, "--model", "tiny-dcgan", "--seed", "5", "-n", "3",
                 "--separate", "-o", str(tmp_path / "img.png")]) == 0
    assert sorted(p.name for p in tmp_path.glob("img-*.png")) == ["img-5.png", "img-6.png", "img-7.png"]
    assert read_metadata(tmp_path / "img-6.png")["seed"] == 6
    gif = tmp_path / "walk.gif"
    assert main(["interpolate", "--models", models_toml, "--model", "tiny-dcgan", "--seed-a", "1", "--seed-b", "9",
                 "--frames", "4", "-o", str(gif)]) == 0
    assert Image.open(gif).n_frames == 6


def test_translate_colorize_and_attributes(tmp_path, models_toml):
    src = tmp_path / "in.jpg"
    Image.effect_mandelbrot((60, 44), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(src)
    out = tmp_path / "t.png"
    assert main(["translate", "--models", models_toml, "--model", "tiny-cyclegan", str(src), "--direction", "BtoA",
                 "-o", str(out)]) == 0
    assert Image.open(out).size == (60, 44) and read_metadata(out)["variant"] == "BtoA"
    assert main(["translate", "--models", models_toml, "--model", "tiny-stargan", str(src), "--attributes", "red",
                 "big", "-o", str(tmp_path / "s.png")]) == 0
    assert read_metadata(tmp_path / "s.png")["attributes"] == ["red", "big"]
    assert main(["colorize", "--models", models_toml, "--model", "tiny-colorizer", str(src),
                 "-o", str(tmp_path / "c.png")]) == 0
    assert Image.open(tmp_path / "c.png").size == (60, 44)


def test_user_errors_are_one_line_not_tracebacks(tmp_path, models_toml):
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    cases = [
        (["generate", "--model", "nope", "-o", str(tmp_path / "n.png")], "unknown model 'nope'"),
        (["translate", "--models", models_toml, "--model", "tiny-cyclegan", str(bad), "-o", str(tmp_path / "b.png")],
         "not-an-image.png"),
        (["generate", "--models", models_toml, "--model", "tiny-cyclegan", "-o", str(tmp_path / "w.png")],
         "translation"),
        (["translate", "--models", models_toml, "--model", "tiny-cyclegan", str(bad), "--direction", "up",
          "-o", str(tmp_path / "d.png")], "choose one of: AtoB, BtoA"),
        (["info", str(bad)], "not-an-image.png"),
    ]
    for args, expected in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert expected in result.stderr, (args, result.stderr)


def test_convert_reference_checkpoints(tmp_path, models_toml):
    # DCGAN tutorial generator saved the way training scripts do: nested under a key.
    ref = randomize(TutorialDCGAN(nz=16, ngf=4, nc=3), seed=1).eval()
    src = tmp_path / "netG.pth"
    torch.save({"netG_state_dict": ref.state_dict(), "epoch": 5}, src)
    out = tmp_path / "converted"
    assert main(["convert", str(src), str(out), "--architecture", "dcgan",
                 "--kwargs", '{"nz": 16, "ngf": 4, "nc": 3, "image_size": 64}']) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    from gan_studio import load_generator

    ours = load_generator(str(out))
    z = torch.randn(2, 16, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(ours(z), ref(z))
    # and the folder is a model id everywhere
    assert main(["generate", "--model", str(out), "-o", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (64, 64)

    # CycleGAN reference ResNet with the old InstanceNorm running stats, saved as latest_net_G.pth
    cyc = randomize(RefResnetGenerator(3, 3, ngf=4, norm_layer=reference_norm_layer("instance", legacy_instance=True),
                                       n_blocks=6), seed=2)
    torch.save(cyc.state_dict(), tmp_path / "latest_net_G.pth")
    assert main(["convert", str(tmp_path / "latest_net_G.pth"), str(tmp_path / "monet"),
                 "--architecture", "resnet_6blocks", "--kwargs", '{"ngf": 4}']) == 0
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():  # the reference patch drops the stats: each image uses its own statistics
        torch.testing.assert_close(load_generator(str(tmp_path / "monet"))(x), cyc.train()(x))

    # a mismatch lists the keys; the output folder is not written
    result = run_cli("convert", str(tmp_path / "latest_net_G.pth"), str(tmp_path / "bad"), "--architecture",
                     "resnet_9blocks", "--kwargs", '{"ngf": 4}')
    assert result.returncode == 2 and "missing keys" in result.stderr and "model.19" in result.stderr
    assert "hint: the checkpoint looks like architecture 'cyclegan_resnet'" in result.stderr
    assert '"n_blocks": 6' in result.stderr
    assert not (tmp_path / "bad").exists()
    result = run_cli("convert", str(src), str(tmp_path / "x"), "--architecture", "dcgan", "--key", "G")
    assert result.returncode == 2 and "no key 'G'" in result.stderr and "netG_state_dict" in result.stderr
