"""Upscaling: Real-ESRGAN's RRDBNet and SRVGGNetCompact layout-exact, and the upscale pipeline.

Reference data (tests/data, derived by running the upstream code in /tmp, never committed):

* ``realesrgan_layouts.json``: the state-dict keys and shapes of BasicSR's ``RRDBNet`` (x4plus,
  x2plus, x4plus_anime_6B configs) and Real-ESRGAN's ``SRVGGNetCompact`` (general-x4v3,
  animevideov3 configs), key for key.
* ``realesrgan_reference.safetensors``: reduced configs (RRDBNet ×4, ×2, ×1 and a 6-block one;
  SRVGGNetCompact with PReLU ×4 and LeakyReLU ×2) with seeded random weights, an input and the
  upstream module's output (``<name>.weights.<key>``, ``<name>.input``, ``<name>.output``; the
  configs in the file's metadata), plus ``pipeline.weights.*``, a reduced SRVGG for the next file.
* ``realesrgan_pipeline_input.png`` / ``realesrgan_pipeline_reference.png``: an RGBA image and
  ``RealESRGANer(scale=4, tile=0, pre_pad=0).enhance(img, outscale=4)`` of it (alpha through the
  model), with the ``pipeline`` weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from gan_studio.architectures import RRDBNet, SRVGGNetCompact, build_architecture
from gan_studio.contract import JOBS, Task, job_of
from gan_studio.errors import UserInputError, WrongTaskError
from gan_studio.pipelines.tiling import parse_tile_message
from gan_studio.pipelines.upscale import output_size, tile_pad_for, upscale_tensor
from gan_studio.registry import Registry, spec_from_folder
from gan_studio.studio import Studio

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "realesrgan_reference.safetensors"
CLASSES = {"RealESRGAN": RRDBNet, "realesr": SRVGGNetCompact}


def _reference(name: str) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict[str, object]]:
    with safe_open(str(REFERENCE), framework="pt") as f:
        configs = json.loads((f.metadata() or {})["configs"]) if name != "pipeline" else {}
        prefix = f"{name}.weights."
        weights = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
        x = f.get_tensor(f"{name}.input") if name != "pipeline" else torch.empty(0)
        y = f.get_tensor(f"{name}.output") if name != "pipeline" else torch.empty(0)
    return weights, x, y, configs.get(name, {})


# ---- the declaration ------------------------------------------------------------------------------
def test_upscale_is_a_job_of_its_own() -> None:
    assert JOBS["upscale"] == (Task.UPSCALE,)
    assert job_of(Task.UPSCALE) == "upscale"
    c = build_architecture("rrdbnet", {"scale": 2, "num_feat": 8, "num_block": 1, "num_grow_ch": 4}).contract
    assert (c.task, c.scale, c.size_multiple, c.in_channels) == (Task.UPSCALE, 2, 2, 3)
    s = build_architecture("srvgg_compact", {"num_feat": 8, "num_conv": 8}).contract
    assert (s.task, s.scale, s.receptive_radius) == (Task.UPSCALE, 4, 10)


# ---- layouts and equivalence with the upstream modules ------------------------------------------
@pytest.mark.parametrize("name", ["RealESRGAN_x4plus", "RealESRGAN_x2plus", "RealESRGAN_x4plus_anime_6B",
                                  "realesr-general-x4v3", "realesr-animevideov3"])
def test_published_layouts_key_for_key(name: str) -> None:
    layout = json.loads((DATA / "realesrgan_layouts.json").read_text())[name]
    cls = next(c for prefix, c in CLASSES.items() if name.startswith(prefix))
    with torch.device("meta"):
        module = cls(**layout["kwargs"])
    ours = [[k, list(v.shape)] for k, v in module.state_dict().items()]
    assert ours == layout["keys"]


@pytest.mark.parametrize("name", ["rrdb_x4", "rrdb_x2", "rrdb_x1", "rrdb_6b", "srvgg_prelu", "srvgg_lrelu_x2"])
def test_same_numbers_as_the_upstream_module(name: str) -> None:
    """Seeded random weights loaded strictly; outputs within 1e-5 of BasicSR's / Real-ESRGAN's."""
    weights, x, expected, config = _reference(name)
    cls = RRDBNet if name.startswith("rrdb") else SRVGGNetCompact
    module = cls(**config).eval()  # type: ignore[arg-type]
    module.load_state_dict(weights, strict=True)
    with torch.no_grad():
        y = module(x)
    assert y.shape == expected.shape
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)


def test_bad_configs_name_the_value() -> None:
    with pytest.raises(ValueError, match="scale must be one of 1, 2, 4"):
        RRDBNet(scale=3)
    with pytest.raises(ValueError, match="act_type must be one of"):
        SRVGGNetCompact(act_type="gelu")
    with pytest.raises(ValueError, match="not a multiple of 2"):
        RRDBNet(scale=2, num_feat=4, num_block=0, num_grow_ch=2)(torch.rand(1, 3, 5, 6))


# ---- the pipeline -------------------------------------------------------------------------------
def _folder(tmp_path: Path, module: torch.nn.Module, name: str = "up") -> Path:
    assert isinstance(module, (RRDBNet, SRVGGNetCompact))
    return module.save_pretrained(tmp_path / name, meta={"task": "upscale"})


def _studio(folder: Path, model_id: str = "up") -> Studio:
    return Studio(registry=Registry([spec_from_folder(folder, model_id=model_id)]), device="cpu", half=False)


def _seeded(module: torch.nn.Module, seed: int, std: float = 0.1) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * std)
    return module.eval()


def test_the_studio_upscales_like_realesrganer_with_alpha(tmp_path: Path) -> None:
    """RGBA through the model (alpha too, as RealESRGANer's default does). RealESRGANer runs the
    colour channels as stored; the studio composites transparent pixels onto white first, so the
    colour is compared on the same image with its alpha dropped, and the alpha on the RGBA run.
    Tolerance: one pass within 1 level of 255 (float rounding at .5); tiles of 16 px (pad 2, below
    the model's radius 5, so blended rather than exact) within 3 levels."""
    weights, _, _, _ = _reference("pipeline")
    module = SRVGGNetCompact(num_feat=8, num_conv=3)
    module.load_state_dict(weights, strict=True)
    studio = _studio(_folder(tmp_path, module))
    source = Image.open(DATA / "realesrgan_pipeline_input.png")
    assert source.mode == "RGBA"
    expected = np.asarray(Image.open(DATA / "realesrgan_pipeline_reference.png"), dtype=int)
    for tile, tol in ((512, 1), (16, 3)):
        out = studio.upscale("up", source, tile_size=tile)
        assert out.image.mode == "RGBA" and out.image.size == (41 * 4, 30 * 4)
        assert out.params["alpha"] == "upscaled by the model alongside the colour"
        alpha_diff = np.abs(np.asarray(out.image, dtype=int)[..., 3] - expected[..., 3])
        assert alpha_diff.max() <= tol, (tile, alpha_diff.max())
        colour = np.asarray(studio.upscale("up", source.convert("RGB"), tile_size=tile).image, dtype=int)
        colour_diff = np.abs(colour - expected[..., :3])
        assert colour_diff.max() <= tol, (tile, colour_diff.max())


def test_tiled_equals_one_pass(tmp_path: Path) -> None:
    """A model whose receptive radius (num_conv + 2 = 6) is within the tile pad (6 px for 48 px
    tiles) gives exactly (0 levels of 255) its one-pass result. RRDBNet's radius (here 2 + 15 + …
    px at ×2) is far beyond the pad, so its tiles are blended, not exact: with random weights on a
    noise image, measured max 4 and mean 0.098 levels of 255; the bar is max 5, mean 0.15."""
    photo = Image.fromarray((np.random.default_rng(1).random((70, 90, 3)) * 255).astype(np.uint8))
    srvgg = _seeded(SRVGGNetCompact(num_feat=8, num_conv=4), 3)
    rrdb = _seeded(RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4), 4, std=0.05)
    for i, (module, max_diff, mean_diff) in enumerate(((srvgg, 0, 0.0), (rrdb, 5, 0.15))):
        studio = _studio(_folder(tmp_path, module, f"m{i}"))
        one = np.asarray(studio.upscale("up", photo, tile_size=512).image, dtype=int)
        messages: list[str] = []
        tiled_result = studio.upscale("up", photo, tile_size=48, progress=lambda f, m, sink=messages: sink.append(m))
        tiled = np.asarray(tiled_result.image, dtype=int)
        tiles = [parse_tile_message(m) for m in messages if parse_tile_message(m)]
        assert tiles and tiles[-1] is not None and tiles[-1][0] == tiles[-1][1] > 1  # progress per tile
        diff = np.abs(one - tiled)
        assert diff.max() <= max_diff and diff.mean() <= mean_diff, (i, diff.max(), diff.mean())
        assert tiled_result.params["tile_pad"] == tile_pad_for(module.contract, 48)  # type: ignore[operator]


def test_any_scale_and_grey_and_errors(tmp_path: Path) -> None:
    studio = _studio(_folder(tmp_path, _seeded(SRVGGNetCompact(num_feat=4, num_conv=1), 5)))
    photo = Image.new("RGB", (20, 13), (90, 120, 200))
    r = studio.upscale("up", photo, scale=3.5)
    assert r.image.size == output_size(20, 13, 3.5) == (70, 46)
    assert r.params["scale"] == 3.5 and r.params["model_scale"] == 4 and r.params["resize"] == "lanczos"
    assert r.source is not None and r.source.size == r.image.size
    assert studio.upscale("up", photo.convert("L")).image.mode == "L"
    for bad in (0, 100, float("nan"), "x"):
        with pytest.raises(UserInputError, match="scale must be a number between"):
            studio.upscale("up", photo, scale=bad)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="more than"):
        studio.upscale("up", Image.new("RGB", (4000, 4000)), scale=4)


def test_only_upscalers_upscale(tmp_path: Path) -> None:
    from gan_studio.architectures import ColorizationUNet

    folder = ColorizationUNet(base_channels=4, depth=2).save_pretrained(tmp_path / "c")
    with pytest.raises(WrongTaskError, match="not an upscaler"):
        _studio(folder, "c").upscale("c", Image.new("RGB", (16, 16)))


def test_upscale_tensor_bounded_buffers() -> None:
    """The assembly holds the 8-bit output plus two float rows of tiles, never a float copy of the
    whole output: a 1000×600 ×4 job in 128 px tiles stays under output + 2 tile rows + 16 MB of
    numpy allocations (tracemalloc), below the 115 MB a float32 output would take alone."""
    import tracemalloc

    x = torch.rand(1, 3, 600, 1000)

    def model(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(t, scale_factor=4, mode="nearest")

    tracemalloc.start()
    out = upscale_tensor(model, x, scale=4, tile=128, pad=8)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full_float = 2400 * 4000 * 3 * 4
    bound = out.nbytes + 2 * (128 * 4 * 4000 * 3 * 4) + 16 * 2**20
    assert out.shape == (1, 2400, 4000, 3)
    assert peak < bound < full_float, (peak, bound)
    ref = np.rint(model(x[..., :100, :100])[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    assert math.isclose(float(np.abs(out[0, :400, :400].astype(int) - ref).max()), 0.0)


def test_cli_upscales_folders_recursively_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gan_studio.cli import main

    folder = _folder(tmp_path, _seeded(SRVGGNetCompact(num_feat=4, num_conv=1), 6))
    models = tmp_path / "models.toml"
    models.write_text(f'[[model]]\nid = "cli-up"\npath = "{folder}"\n', encoding="utf-8")
    shots = tmp_path / "shots"
    (shots / "sub").mkdir(parents=True)
    Image.new("RGB", (10, 8), (200, 10, 10)).save(shots / "a.jpg")
    Image.new("RGBA", (6, 6), (0, 0, 255, 128)).save(shots / "sub" / "b.png")
    (shots / "notes.txt").write_text("not an image")
    single = tmp_path / "single.png"
    Image.new("L", (5, 7), 99).save(single)
    out = tmp_path / "out"
    args = ["upscale", "--models", str(models), "--model", "cli-up", str(shots), str(single), "-o", str(out),
            "--scale", "2", "--tile", "64"]
    assert main(args) == 0
    a, b, s = out / "shots" / "a.png", out / "shots" / "sub" / "b.png", out / "single.png"
    with Image.open(a) as im_a, Image.open(b) as im_b, Image.open(s) as im_s:
        assert (im_a.size, im_b.size, im_s.size) == ((20, 16), (12, 12), (10, 14))
        assert im_b.mode == "RGBA" and im_s.mode == "RGB"  # the decoder gives grey files as RGB
    # resumable: complete outputs are skipped (not rewritten), a broken one is redone
    stamp = a.stat().st_mtime_ns
    b.write_bytes(b.read_bytes()[:40])  # an interrupted write by something else
    assert main(args) == 0
    assert a.stat().st_mtime_ns == stamp
    with Image.open(b) as im_b:
        im_b.load()
        assert im_b.size == (12, 12)
    # one file to one PNG; a folder to a file name is refused with the reason
    assert main(["upscale", "--models", str(models), "--model", "cli-up", str(single), "-o",
                 str(tmp_path / "one.png")]) == 0
    with Image.open(tmp_path / "one.png") as one:
        assert one.size == (20, 28)
    capsys.readouterr()
    assert main(["upscale", "--models", str(models), "--model", "cli-up", str(shots), "-o", str(tmp_path / "x.png")]) == 2
    assert "names a folder" in capsys.readouterr().err
