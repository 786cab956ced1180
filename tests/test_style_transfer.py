"""Photo style transfer: AnimeGANv2 and CycleGAN painter styles, and full-resolution tiled translation.

* AnimeGANv2: the port's ``Generator`` rewritten from its published structure
  (tests/reference_animegan.py), seeded random weights, saved with ``torch.save`` as a plain state
  dict under the catalogue's repo id and file name on the 127.0.0.1 test Hub, loaded by catalogue
  id the way the studio loads it; outputs equal the reference module's, directly and through the
  pipeline (centre crop, working size).
* CycleGAN painter styles (``style_monet`` & co. are not on the Hub): a reference-structured
  ``resnet_9blocks`` with the 2018 InstanceNorm running statistics, saved as ``latest_net_G.pth``,
  brought in with ``python -m gan_studio convert`` and a ``--models`` file; same numbers as the
  reference code.
* Tiling: weights sum to one; an identity model comes back exactly; a purely local model whose
  receptive field fits in the overlap margin gives its untiled output; InstanceNorm models with
  thumbnail statistics are consistent across tiles (measured against per-tile statistics); a
  4000×3000 photo through the CLI with ``--full-res`` in a subprocess with bounded peak memory.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gan_studio.architectures import build_architecture
from gan_studio.cli import main, reproduce_command
from gan_studio.image_io import center_crop, pil_to_tensor, resize, tensor_to_pil
from gan_studio.metadata import read_metadata
from gan_studio.pipelines.tiling import (
    axis_starts,
    axis_weights,
    per_input_norm_layers,
    plan_tiles,
    translate_tiled,
    translate_tiled_array,
)
from gan_studio.studio import Studio

try:
    from reference_animegan import PUBLISHED_KEYS_SAMPLE, RefAnimeGANv2Generator
    from reference_layouts import RefResnetGenerator, randomize, reference_norm_layer
    from tiny_models import make_models_toml
except ImportError:  # tests/ imported as a package
    from tests.reference_animegan import PUBLISHED_KEYS_SAMPLE, RefAnimeGANv2Generator
    from tests.reference_layouts import RefResnetGenerator, randomize, reference_norm_layer
    from tests.tiny_models import make_models_toml

ROOT = Path(__file__).resolve().parents[1]
ANIMEGAN_ID = "akhaliq/AnimeGANv2-pytorch"
ANIMEGAN_FILE = "face_paint_512_v2.pt"


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def photo(w: int, h: int, seed: int = 0) -> Image.Image:
    """A smooth synthetic colour photo with some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([128 + 100 * np.sin(x / 37.0 + seed), 128 + 90 * np.cos(y / 23.0 + x / 51.0), (x + y) % 256], -1)
    return Image.fromarray((rgb + rng.normal(0, 8, rgb.shape)).clip(0, 255).astype(np.uint8))


def state_dict_bytes(module: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)  # a plain state dict, as the port's .pt files are
    return buf.getvalue()


@pytest.fixture(scope="module")
def ref_animegan() -> RefAnimeGANv2Generator:
    return randomize(RefAnimeGANv2Generator(), seed=9).eval()


# ---- AnimeGANv2 ------------------------------------------------------------------------------------
def test_animegan_layout_is_the_ports_key_for_key_and_number_for_number(ref_animegan):
    ours = build_architecture("animegan2", {})
    ref_sd = ref_animegan.state_dict()
    assert set(ours.state_dict()) == set(ref_sd) and len(ref_sd) == 77
    assert all(k in ref_sd for k in PUBLISHED_KEYS_SAMPLE)
    assert sum(v.numel() for v in ref_sd.values()) == 2_143_552  # 8.6 MB in float32, as published
    ours.load_state_dict(ref_sd, strict=True)
    ours.eval()
    with torch.inference_mode():
        for size in ((64, 64), (44, 60), (37, 53)):  # odd sizes: the align_corners path resizes exactly
            x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(size[0])) * 2 - 1
            y = ours(x)
            assert y.shape == x.shape and y.abs().max() <= 1
            torch.testing.assert_close(y, ref_animegan(x, align_corners=True), rtol=0, atol=1e-6)
        ours_legacy = build_architecture("animegan2", {"align_corners": False})
        ours_legacy.load_state_dict(ref_sd, strict=True)
        x = torch.rand(1, 3, 48, 64) * 2 - 1
        torch.testing.assert_close(ours_legacy.eval()(x), ref_animegan(x, align_corners=False), rtol=0, atol=1e-6)
        assert (ours_legacy(x) - ours(x)).abs().max() > 1e-3  # the two upsampling modes really differ


def test_animegan_catalogue_entry_loads_from_the_hub_by_id(hub_server, ref_animegan):
    commit = hub_server.publish(ANIMEGAN_ID, {ANIMEGAN_FILE: state_dict_bytes(ref_animegan)})
    studio = Studio(device="cpu", precision="fp32", channels_last="off")  # the reference's numbers, to 1e-6
    spec = studio.spec(ANIMEGAN_ID)
    assert spec.task.value == "translation" and spec.architecture == "animegan2"
    assert spec.source.files == (ANIMEGAN_FILE,) and spec.image_size == 512
    assert spec.preprocess == {"center_crop_square": True, "working_size": 512}
    loaded = studio.load(ANIMEGAN_ID)
    assert loaded.revision == commit
    assert hub_server.requests("GET", ANIMEGAN_FILE)
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module(x), ref_animegan(x), rtol=0, atol=1e-6)

    # Through the pipeline: the port's face2paint recipe (centre square, resize, x*2-1, G, (y+1)/2),
    # at a 64 px working size to keep the test fast; the result is the crop, at its own size.
    image = photo(90, 60, seed=3)
    result = studio.translate(ANIMEGAN_ID, image, working_size=64)
    crop = center_crop(image, 60)
    with torch.inference_mode():
        expected = tensor_to_pil(ref_animegan(pil_to_tensor(resize(crop, 64))))[0]
    expected = resize(expected, crop.size)
    assert result.image.size == (60, 60)
    assert np.abs(np.asarray(result.image, np.int16) - np.asarray(expected, np.int16)).max() <= 1
    assert result.params["center_crop"] is True and result.params["working_size"] == 64
    assert reproduce_command(result.params).endswith("--size 64 --center-crop -o OUT.png")
    uncropped = studio.translate(ANIMEGAN_ID, image, working_size=64, center_crop=False)
    assert uncropped.image.size == (90, 60) and uncropped.params["center_crop"] is False
    assert "--no-center-crop" in reproduce_command(uncropped.params)


# ---- CycleGAN painter styles: convert + --models -----------------------------------------------------
def test_painter_style_reference_file_converts_and_loads_from_a_models_file(tmp_path, capsys):
    # The 2017/18 reference pretrained files (style_monet.pth saved as latest_net_G.pth) carry
    # InstanceNorm running statistics; ngf=8 instead of 64 keeps it fast, the layout is the same.
    legacy_norm = reference_norm_layer("instance", legacy_instance=True)
    legacy = randomize(RefResnetGenerator(3, 3, ngf=8, norm_layer=legacy_norm, n_blocks=9), seed=4)
    pth = tmp_path / "style_monet_pretrained" / "latest_net_G.pth"
    pth.parent.mkdir()
    torch.save(legacy.state_dict(), pth)
    assert any(k.endswith("running_mean") for k in legacy.state_dict())
    out = tmp_path / "models" / "monet"
    assert main(["convert", str(pth), str(out), "--architecture", "resnet_9blocks", "--kwargs", '{"ngf": 8}',
                 "--license", "bsd-2-clause"]) == 0
    toml = tmp_path / "models" / "styles.toml"
    toml.write_text('[[model]]\nid = "style-monet"\npath = "monet"\ndescription = "photo -> Monet"\n', encoding="utf-8")

    # The reference code today: InstanceNorm without running stats, the legacy keys deleted on load.
    reference = RefResnetGenerator(3, 3, ngf=8, norm_layer=reference_norm_layer("instance"), n_blocks=9)
    reference.load_state_dict({k: v for k, v in legacy.state_dict().items()
                               if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))})
    studio = Studio(models_file=str(toml), device="cpu", half=False)
    loaded = studio.load("style-monet")
    x = torch.rand(1, 3, 40, 52) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module(x), reference.eval()(x), rtol=0, atol=1e-5)

    src = tmp_path / "in.png"
    photo(70, 50).save(src)
    capsys.readouterr()
    assert main(["translate", "--models", str(toml), "--model", "style-monet", str(src), "--full-res", "--tile", "32",
                 "--overlap", "8", "-o", str(tmp_path / "out.png"), "--device", "cpu"]) == 0
    params = read_metadata(tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").size == (70, 50)
    assert params["full_resolution"] is True and params["tile_size"] == 32 and params["norm_stats"] == "thumbnail"
    assert "--full-res --tile 32 --overlap 8" in reproduce_command(params)


def test_tile_flags_without_full_res_are_refused(tmp_path, capsys):
    toml = make_models_toml(tmp_path, ["tiny-cyclegan"])
    src = tmp_path / "in.png"
    photo(40, 30).save(src)
    assert main(["translate", "--models", str(toml), "--model", "tiny-cyclegan", str(src), "--tile", "64",
                 "-o", str(tmp_path / "o.png"), "--device", "cpu"]) == 2
    assert "--full-res" in capsys.readouterr().err


# ---- tiling --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("length", "tile", "overlap"), [
    (1000, 128, 32), (513, 512, 64), (4000, 512, 64), (3000, 512, 64), (700, 256, 128), (100, 256, 64),
    (257, 128, 64), (90, 32, 0), (1001, 100, 50),
])
def test_tile_weights_sum_to_one_and_spare_the_tile_borders(length, tile, overlap):
    starts = axis_starts(length, tile, overlap)
    tile_len = min(tile, length)
    assert starts[0] == 0 and starts[-1] + tile_len == length
    assert all(a + tile_len - b >= overlap for a, b in zip(starts, starts[1:]))  # every overlap >= requested
    weights = axis_weights(length, starts, tile_len, overlap)
    total = np.zeros(length)
    for s, w in zip(starts, weights):
        total[s : s + tile_len] += w
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)
    margin = overlap // 4
    for i, w in enumerate(weights):
        if margin and i > 0:
            assert w[:margin].max() == 0  # padded border pixels never reach the output
        if margin and i < len(weights) - 1:
            assert w[-margin:].max() == 0


def test_tile_count_grows_linearly_with_pixels_and_bad_sizes_are_named():
    phone = plan_tiles(4000, 3000, tile=512, overlap=64, multiple=4)
    assert len(phone) == 63 and (phone.tile_w, phone.tile_h) == (512, 512)
    assert 3.5 < len(plan_tiles(8000, 6000, tile=512, overlap=64)) / len(phone) < 4.5
    assert plan_tiles(300, 200, tile=300, overlap=64, multiple=256).tile_w == 300  # tile rounded up to 512 > width
    with pytest.raises(ValueError, match="overlap must be at most half"):
        plan_tiles(1000, 1000, tile=128, overlap=100)
    with pytest.raises(ValueError, match="at least 16"):
        plan_tiles(1000, 1000, tile=8, overlap=0)
    with pytest.raises(ValueError, match="choose one of: thumbnail, tile"):
        translate_tiled(nn.Identity(), photo(40, 30), tile=32, overlap=8, norm_stats="global")


def test_identity_model_comes_back_exactly_through_the_tiles():
    image = photo(301, 203, seed=1)
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    messages: list[str] = []
    with torch.inference_mode():
        out = translate_tiled(conv, image, tile=64, overlap=16, progress=lambda f, m: messages.append(m))
    assert np.array_equal(np.asarray(out), np.asarray(image))
    n = len(plan_tiles(301, 203, tile=64, overlap=16))
    assert messages == [f"tile {k}/{n}" for k in range(1, n + 1)]


def _local_model(radius: int, seed: int = 0) -> nn.Module:
    """A zero-padded 3×3 box filter dilated by ``radius`` (receptive-field radius = ``radius`` px,
    with full weight at that distance), then a random 1×1 conv and tanh."""
    torch.manual_seed(seed)
    blur = nn.Conv2d(3, 3, 3, padding=radius, dilation=radius, groups=3, bias=False)
    nn.init.constant_(blur.weight, 1 / 9)
    return nn.Sequential(blur, nn.Conv2d(3, 3, 1), nn.Tanh()).eval()


def test_no_seams_when_the_receptive_field_fits_in_the_overlap_margin():
    image = photo(230, 170, seed=2)
    with torch.inference_mode():
        for radius, expect_exact in ((2, True), (4, True), (16, False)):  # margin >= overlap // 4 = 4 px
            model = _local_model(radius)
            tiled = translate_tiled_array(model, image, tile=64, overlap=16)
            full = model(pil_to_tensor(image))[0].permute(1, 2, 0).numpy()
            diff = np.abs(tiled - full).max()
            if expect_exact:
                assert diff < 1e-5, (radius, diff)
            else:  # a receptive field wider than the margin: the test can tell (the zero padding leaks in)
                assert diff > 1e-2, (radius, diff)


def _reference_init(module: nn.Module, seed: int) -> nn.Module:
    """The CycleGAN reference's init (conv weights N(0, 0.02), biases 0): outputs in tanh's linear range."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02 if p.ndim > 1 else torch.zeros_like(p))
    return module.eval()


def _overlap_disagreement(model: nn.Module, image: Image.Image, tile: int, overlap: int, norm_stats: str) -> float:
    """Mean |tile A - tile B| (8-bit levels) where horizontal neighbours overlap (margins excluded):
    what the feathering has to hide."""
    from gan_studio.pipelines.tiling import _prepare_model

    plan = plan_tiles(image.width, image.height, tile=tile, overlap=overlap, multiple=4)
    model = _prepare_model(model, image, plan, norm_stats, multiple=4, device="cpu", dtype=torch.float32)
    diffs = []
    for y in plan.ys:
        outs = [model(pil_to_tensor(image.crop((x, y, x + plan.tile_w, y + plan.tile_h))))[0] for x in plan.xs]
        for (xa, a), (xb, b) in zip(zip(plan.xs, outs), list(zip(plan.xs, outs))[1:]):
            width, m = xa + plan.tile_w - xb, overlap // 4
            diffs.append((a[..., xb - xa + m : plan.tile_w - m] - b[..., m : width - m]).abs().mean().item())
    return float(np.mean(diffs)) * 127.5


def test_instance_norm_tiles_agree_with_thumbnail_statistics():
    """Measured on a 320×224 photo with a reference-initialised CycleGAN ResNet (ngf 8, 3 blocks,
    InstanceNorm), 128 px tiles, 64 px overlap; numbers in 8-bit levels:

    * an image that fits in one tile: thumbnail statistics give the single-pass output (< 1e-4);
    * disagreement of neighbouring tiles in their overlaps (what the feathering must hide):
      per-tile statistics 18.6, thumbnail statistics 1.7 (the rest is the receptive field reaching
      past the 16 px margin; with 32 px overlap it is 20.5 vs 9.9);
    * blended result vs one full-image pass: mean 16.5 (per tile) vs 9.5 (thumbnail; its statistics
      are those of a 128 px thumbnail, not of the 320 px image, so some difference stays).

    Tolerances below leave room for other BLAS builds: thumbnail disagreement < 4 and < 1/4 of the
    per-tile one; blended vs full < 13 (thumbnail) and < 24 (per tile).
    """
    model = _reference_init(build_architecture("cyclegan_resnet", {"ngf": 8, "n_blocks": 3}), seed=0)
    layers = per_input_norm_layers(model)
    assert len(layers) == 3 + 2 * 3 + 2  # stem, two downsamplings, 2 per block, two upsamplings
    image = photo(320, 224, seed=5)
    with torch.inference_mode():
        small = photo(120, 88, seed=6)
        single = translate_tiled_array(model, small, tile=128, overlap=32, multiple=4)
        np.testing.assert_allclose(single, model(pil_to_tensor(small))[0].permute(1, 2, 0).numpy(), atol=1e-4)

        per_tile = _overlap_disagreement(model, image, 128, 64, "tile")
        thumb = _overlap_disagreement(model, image, 128, 64, "thumbnail")
        assert thumb < 4.0 and thumb < 0.25 * per_tile, (thumb, per_tile)

        full = model(pil_to_tensor(image))[0].permute(1, 2, 0).numpy()
        for stats, bound in (("tile", 24.0), ("thumbnail", 13.0)):
            blended = translate_tiled_array(model, image, tile=128, overlap=64, multiple=4, norm_stats=stats)
            assert np.abs(blended - full).mean() * 127.5 < bound, stats
    # the model given (e.g. the studio's cached one) is never modified: thumbnail statistics use a copy
    assert all("forward" not in vars(layer) for layer in layers)


# ---- a 12 MP photo through the CLI, memory bounded ---------------------------------------------------------
PEAK_RSS_GROWTH_BOUND_MB = 1000  # measured ~400 MB: decoded photo, its RGB copy, the output, two float rows

_RUNNER = textwrap.dedent(
    """
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    import gan_studio.cli, gan_studio.studio, gan_studio.pipelines.translation, gan_studio.metadata

    def status():
        fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
        return {k: int(fields[k].split()[0]) // 1024 for k in ("VmHWM", "VmRSS")}

    before = status()
    start = time.perf_counter()
    rc = gan_studio.cli.main(sys.argv[1:])
    print(json.dumps({"rc": rc, "before": before, "after": status(), "seconds": time.perf_counter() - start}),
          file=sys.stderr)
    """
)


def test_a_12_megapixel_photo_translates_at_full_resolution_with_bounded_memory(tmp_path):
    toml = make_models_toml(tmp_path, ["tiny-cyclegan"])
    h, w = 3000, 4000
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    rgb = np.stack(np.broadcast_arrays(200 * x + 40 * np.sin(y * 40), 180 * y + 30 * np.cos(x * 55),
                                       120 + 100 * np.sin((x + y) * 9)), -1)
    src = tmp_path / "phone.jpg"
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(src, quality=90)
    out = tmp_path / "styled.png"
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, "translate", "--models", str(toml), "--model", "tiny-cyclegan", str(src),
         "--full-res", "-o", str(out), "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stderr.strip().splitlines()[-1])
    assert stats["rc"] == 0
    growth = stats["after"]["VmHWM"] - stats["before"]["VmRSS"]
    assert growth < PEAK_RSS_GROWTH_BOUND_MB, stats
    with Image.open(out) as result:
        assert result.size == (4000, 3000)
        array = np.asarray(result.convert("RGB").reduce(8), dtype=np.float32)
    assert array.std() > 2.0  # an image, not a flat fill
    params = read_metadata(out)
    assert params["full_resolution"] is True and params["tile_size"] == 512 and params["overlap"] == 64
    assert params["input_size"] == [4000, 3000]
