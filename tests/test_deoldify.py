"""DeOldify (Artistic / Stable): layout and numbers against the reference code, the fastai pickle
allow-list against hostile files, and the catalogue entries end to end through the test Hub.

The reference numbers in ``tests/data/deoldify_reference.safetensors`` were derived by running
DeOldify's own ``DynamicUnetDeep``/``DynamicUnetWide`` (jantic/DeOldify with its vendored fastai v1,
in a scratch directory; none of that code is here) with the weights :func:`seeded_state` makes from
each module's key list, on the inputs stored beside them. ``tests/data/deoldify_keys.json`` is the
reference's key and shape list at the published Artistic and Stable configs.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import torch


def seeded_state(template: Mapping[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights for a DeOldify state dict, the same for any module with these keys and shapes
    (each tensor drawn from its own seed, ``seed`` + the CRC of its key): fan-in scaled
    convolutions, batch norm with random statistics, a non-zero attention ``gamma``, and spectral
    norm vectors ``weight_u``/``weight_v`` from three power iterations on their weight (so σ = uᵀWv
    is near the top singular value, as in a trained file)."""

    def gen(key: str) -> torch.Generator:
        return torch.Generator().manual_seed(seed + zlib.crc32(key.encode()))

    out: dict[str, torch.Tensor] = {}
    for key in sorted(template):
        shape = tuple(template[key].shape)
        g = gen(key)
        stem = key.rsplit(".", 1)[0]
        name = key.rsplit(".", 1)[1]
        if name == "num_batches_tracked":
            out[key] = torch.zeros((), dtype=torch.long)
        elif name == "running_var":
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif name == "running_mean":
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif name == "gamma":
            out[key] = torch.randn(shape, generator=g) * 0.5
        elif name in ("weight_u", "weight_g") or (name == "weight_v" and f"{stem}.weight_orig" in template):
            continue  # derived from the weight below
        elif len(shape) == 1:  # biases and batch-norm affine parameters
            base = 1.0 if name == "weight" else 0.0
            out[key] = base + torch.randn(shape, generator=g) * 0.1
        else:  # convolution weights: weight, weight_orig (spectral), weight_v (weight norm)
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            out[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    for key in sorted(template):
        stem, name = key.rsplit(".", 1)
        if name == "weight_g":
            v = out[f"{stem}.weight_v"]
            out[key] = v.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * (1.0 + 0.1 * torch.rand(template[key].shape[0],
                                                                                          generator=gen(key)).view(-1, 1, 1, 1))
        elif name == "weight_u":
            w = out[f"{stem}.weight_orig"].flatten(1)
            u = torch.nn.functional.normalize(torch.randn(w.shape[0], generator=gen(key)), dim=0)
            for _ in range(3):
                v = torch.nn.functional.normalize(w.t() @ u, dim=0)
                u = torch.nn.functional.normalize(w @ v, dim=0)
            out[key], out[f"{stem}.weight_v"] = u, v
    return out


# ---------------------------------------------------------------------------------------------------
# (imports for the tests below; seeded_state above is also imported by the scratch script that derived
# the reference numbers, so it stays importable on its own)
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from gan_studio.architectures import build_architecture  # noqa: E402
from gan_studio.architectures.deoldify import DeOldifyUnet  # noqa: E402
from gan_studio.errors import CheckpointError  # noqa: E402
from gan_studio.fastai_pickle import ALLOWED_GLOBALS, load_fastai_checkpoint, scan_globals  # noqa: E402
from gan_studio.models import build_generator  # noqa: E402
from gan_studio.registry import ModelSpec, Registry, load_registry  # noqa: E402
from gan_studio.studio import Studio  # noqa: E402
from gan_studio.weights import load_weight_file  # noqa: E402

try:
    from hub_publishing import publish_source
except ImportError:  # tests/ imported as a package
    from tests.hub_publishing import publish_source

DATA = Path(__file__).parent / "data"
ARTISTIC, STABLE = "spensercai/DeOldify:artistic", "spensercai/DeOldify:stable"
FILES = {ARTISTIC: "ColorizeArtistic_gen.pth", STABLE: "ColorizeStable_gen.pth"}
# The reduced configs the reference numbers were derived at ("artistic" is the published one).
REFERENCE_CASES = {"artistic": {"encoder": "resnet34", "decoder": "deep", "nf_factor": 1.5},
                   "wide_r18": {"encoder": "resnet18", "decoder": "wide", "nf_factor": 1}}
# Small configs with the published code paths, for the Hub round trips (the real files are 255/874 MB).
SMALL = {ARTISTIC: {"encoder": "resnet18", "decoder": "deep", "nf_factor": 0.25},
         STABLE: {"encoder": "resnet18", "decoder": "wide", "nf_factor": 1}}

pytestmark = pytest.mark.usefixtures("one_thread")


def fastai_file(state_dict: Mapping[str, torch.Tensor], *, zip_format: bool = False, extra: object = None) -> bytes:
    """What fastai v1's ``learn.save`` writes: ``{'model': state_dict, 'opt': optimizer state}`` with the
    learning rates fastai sets before any step (``slice``s), in the legacy ``torch.save`` format of
    the published files (or the zip format)."""
    groups = [{"lr": slice(None, 3e-3), "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 1e-3, "amsgrad": False,
               "params": list(range(i * 10, i * 10 + 10))} for i in range(3)]
    opt: dict[str, object] = {"state": {}, "param_groups": groups}
    if extra is not None:
        opt["extra"] = extra
    buf = io.BytesIO()
    torch.save({"model": dict(state_dict), "opt": opt}, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def small_module(model_id: str, seed: int = 0) -> DeOldifyUnet:
    module = DeOldifyUnet(**SMALL[model_id])
    module.load_state_dict(seeded_state(module.state_dict(), seed), strict=True)
    return module.eval()


def small_spec(model_id: str) -> ModelSpec:
    spec = load_registry().get(model_id)
    return replace(spec, kwargs={**spec.kwargs, **SMALL[model_id]})


# --------------------------------------------------------------------------- layout and numbers


@pytest.mark.parametrize(("model_id", "name"), [(ARTISTIC, "artistic"), (STABLE, "stable")])
def test_published_configs_match_the_reference_key_list(model_id, name):
    """The catalogue kwargs build exactly the reference's state dict keys and shapes at the published
    configs (DynamicUnetDeep/resnet34/1.5, DynamicUnetWide/resnet101/2), built on the meta device."""
    reference = {k: tuple(s) for k, s in json.loads((DATA / "deoldify_keys.json").read_text())[name]}
    spec = load_registry().get(model_id)
    with torch.device("meta"):
        ours = build_architecture(spec.architecture, spec.kwargs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == reference
    assert "layers.8.conv.0.weight_g" in reference and "layers.11.0.weight_orig" in reference
    # the float32 tensors of the file: 255.07 MB (Artistic) / 873.92 MB (Stable), the published sizes
    n = sum(int(np.prod(s)) for s in reference.values())
    assert round(n * 4 / 1e6) == {"artistic": 255, "stable": 874}[name]


@pytest.mark.parametrize("case", sorted(REFERENCE_CASES))
def test_numbers_match_the_reference_code(case):
    """Same weights (seeded_state), same inputs, same numbers as DeOldify's own modules: the full
    Artistic config, and the wide decoder (over ResNet-18); a 64×64 input and a batch of two
    48×32 inputs (sides that are not multiples of 32, so upsampled maps are resized to their skips)."""
    reference = load_file(str(DATA / "deoldify_reference.safetensors"))
    module = DeOldifyUnet(**REFERENCE_CASES[case])
    module.load_state_dict(seeded_state(module.state_dict()), strict=True)
    module.eval()
    with torch.inference_mode():
        for name in ("x64", "xodd"):
            expected = reference[f"{case}/y_{name}"]
            out = module(reference[name])
            torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)  # measured: 9.5e-7 (max abs)
            assert float(expected.std()) > 0.3  # the reference output is not saturated


def test_seeded_weights_are_not_a_trivial_network():
    """The random weights exercise every part: self-attention's gamma is not zero and spectral norm's
    σ = uᵀWv is positive (so a mis-wired attention or norm changes the numbers above)."""
    module = DeOldifyUnet(**SMALL[ARTISTIC])
    state = seeded_state(module.state_dict())
    assert abs(float(state["layers.5.conv2.3.gamma"])) > 1e-3
    for stem in ("layers.11.0", "layers.5.conv2.3.query"):
        w = state[f"{stem}.weight_orig"].flatten(1)
        sigma = state[f"{stem}.weight_u"] @ w @ state[f"{stem}.weight_v"]
        assert float(sigma) > 0.5 * float(torch.linalg.svdvals(w)[0])


def test_contract_and_validation():
    module = DeOldifyUnet(**SMALL[ARTISTIC])
    contract = module.contract
    assert (contract.colour_input, contract.colour_output, contract.square_input) == (
        "grey_rgb_imagenet", "rgb_imagenet", True)
    assert (contract.in_channels, contract.out_channels, contract.size_multiple, contract.native_size) == (3, 3, 16, 560)
    with pytest.raises(ValueError, match="encoder must be one of"):
        DeOldifyUnet(encoder="vgg16")
    with pytest.raises(ValueError, match="decoder must be one of"):
        DeOldifyUnet(decoder="shallow")
    with pytest.raises(ValueError, match="whole number"):
        DeOldifyUnet(decoder="wide", nf_factor=1.5)
    with pytest.raises(ValueError, match="even image sides"):
        module(torch.zeros(1, 3, 33, 32))
    with torch.no_grad():
        out = module.eval()(torch.zeros(1, 3, 32, 48))
    assert out.shape == (1, 3, 32, 48) and float(out.min()) >= -3 and float(out.max()) <= 3


# --------------------------------------------------------------------------- the fastai pickle


def test_fastai_file_loads_through_the_allow_list(tmp_path):
    module = small_module(ARTISTIC)
    for zip_format in (False, True):
        path = tmp_path / f"gen_{zip_format}.pth"
        path.write_bytes(fastai_file(module.state_dict(), zip_format=zip_format))
        assert scan_globals(path) == {"collections.OrderedDict", "builtins.slice", "torch._utils._rebuild_tensor_v2",
                                      "torch.FloatStorage", "torch.LongStorage"}
        assert scan_globals(path) <= ALLOWED_GLOBALS
        checkpoint = load_fastai_checkpoint(path)
        assert set(checkpoint) == {"model", "opt"}
        assert checkpoint["opt"]["param_groups"][0]["lr"] == slice(None, 3e-3)
        loaded = DeOldifyUnet.read_weight_file(path)["model"]
        assert loaded.keys() == module.state_dict().keys()
        assert all(torch.equal(loaded[k], v) for k, v in module.state_dict().items())
    # torch's weights-only loader alone refuses the slice: why the fastai reader exists
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_weight_file(tmp_path / "gen_False.pth")


class _RunsCommand:
    """Unpickling this would run a shell command (a REDUCE of os.system)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _UnknownThing:
    """A class the allow-list has never heard of."""

    def __init__(self) -> None:
        self.value = 1


def _hostile_files(tmp_path: Path, canary: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, what the refusal must name)."""
    sd = {"layers.1.weight": torch.ones(2)}
    system = f"{os.system.__module__}.system"  # posix.system (nt.system on Windows)
    command = f"touch {canary}"
    return {
        "reduce_os_system": (fastai_file(sd, extra=_RunsCommand(command)), system),
        "reduce_os_system_zip": (fastai_file(sd, zip_format=True, extra=_RunsCommand(command)), system),
        "reduce_stack_global": (pickle.dumps(_RunsCommand(command), protocol=4), system),
        "unknown_class": (fastai_file(sd, extra=_UnknownThing()), "_UnknownThing"),
        "functools_partial": (fastai_file(sd, extra=__import__("functools").partial(print, "x")), "functools.partial"),
        "builtins_eval": (pickle.dumps(_Eval(), protocol=2), "builtins.eval"),
        # a legacy file with a clean zip checkpoint appended: zipfile would read the zip, torch the legacy start
        "legacy_with_zip_tail": (fastai_file(sd, extra=_RunsCommand(command)) + fastai_file(sd, zip_format=True),
                                 system),
    }


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_hostile_pickles_are_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # cannot turn full unpickling on
    canary = tmp_path / "canary"
    for name, (data, refused) in _hostile_files(tmp_path, canary).items():
        path = tmp_path / f"{name}.pth"
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match="refused global") as info:
            load_fastai_checkpoint(path)
        assert refused in str(info.value), (name, str(info.value))
        assert path.name in str(info.value)
        assert not canary.exists(), f"{name}: the file's code ran"
    # the canary file is what the REDUCE would have made: make sure the command itself works
    os.system(f"touch {canary}")
    assert canary.exists()


def test_computed_stack_global_and_extension_registry_are_refused(tmp_path):
    # STACK_GLOBAL whose module name comes from a non-literal (here: a tuple's item via memo games)
    computed = b"\x80\x04" + b"(" + b"\x8c\x05posix" + b"t" + b"\x94" + b"h\x00" + b"\x8c\x06system\x93)R."
    path = tmp_path / "computed.pth"
    path.write_bytes(computed)
    with pytest.raises(CheckpointError, match="computed"):
        load_fastai_checkpoint(path)
    ext = tmp_path / "ext.pth"
    ext.write_bytes(b"\x80\x02\x82\x01)R.")  # EXT1 code 1
    with pytest.raises(CheckpointError, match="extension registry"):
        load_fastai_checkpoint(ext)


def test_truncated_and_garbage_files_are_refused(tmp_path):
    state = {k: v for k, v in small_module(ARTISTIC).state_dict().items() if not k.startswith("layers.0.")}
    data = fastai_file(state)
    for cut in (10, 200, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.pth"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            load_fastai_checkpoint(path)
    zipped = fastai_file(state, zip_format=True)
    path = tmp_path / "cutzip.pth"
    path.write_bytes(zipped[: len(zipped) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_fastai_checkpoint(path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"<html>not a checkpoint</html>")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_fastai_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_fastai_checkpoint(tmp_path / "missing.pth")


# --------------------------------------------------------------------------- the catalogue entries


def test_catalogue_entries_are_colorizers_with_licence_and_size():
    """Listed for the Colorize tab (the colorization job), whose model blurb (ui/text.py: spec_blurb) shows
    the licence and the description, with the file size."""
    from gan_studio.contract import JOBS

    registry = load_registry()
    colorizers = [s.id for s in registry.list() if s.task in JOBS["colorize"]]
    for model_id in (ARTISTIC, STABLE):
        spec = registry.get(model_id)
        assert model_id in colorizers and spec.architecture == "deoldify" and spec.builtin
        assert spec.license == "mit" and spec.image_size == 560 and spec.source.files == (FILES[model_id],)
        assert ("255 MB" if model_id == ARTISTIC else "874 MB") in spec.description


@pytest.mark.parametrize("model_id", [ARTISTIC, STABLE])
def test_hub_entry_loads_and_colorizes_end_to_end(hub_server, model_id):
    """A fastai-format file with the entry's layout (small config) published under the entry's repo and
    file name: downloaded, read through the allow-list, loaded strictly, and run by Studio.colorize at
    a render factor (a square of 16 × render factor), keeping the photo's size and luminance."""
    spec = small_spec(model_id)
    reference = small_module(model_id, seed=3)
    commit = publish_source(hub_server, spec, {FILES[model_id]: fastai_file(reference.state_dict()),
                                               "README.md": b"---\nlicense: mit\n---\n"})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    loaded = studio.load(model_id)
    assert (loaded.architecture, loaded.revision, loaded.kwargs["encoder"]) == ("deoldify", commit, "resnet18")
    assert all(torch.equal(loaded.module.state_dict()[k], v) for k, v in reference.state_dict().items())
    seen: list[tuple[int, ...]] = []
    loaded.module.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 72, 3), dtype=np.uint8))
    result = studio.colorize(model_id, photo.convert("L"), working_size=16 * 4)  # render factor 4
    assert seen == [(1, 3, 64, 64)] and result.image.size == photo.size
    from skimage.color import rgb2lab

    out_lab = rgb2lab(np.asarray(result.image))
    grey_l = rgb2lab(np.asarray(photo.convert("L").convert("RGB")))[..., 0]
    assert np.abs(out_lab[..., 0] - grey_l).mean() < 1.5  # the original's luminance, at full resolution
    assert np.abs(out_lab[..., 1:]).mean() > 1.0  # and colour from the model
    grey = studio.colorize(model_id, photo.convert("L"), working_size=64, strength=0.0)
    assert np.abs(rgb2lab(np.asarray(grey.image))[..., 1:]).mean() < 1.0


def test_hostile_file_under_the_catalogue_name_is_refused_and_runs_nothing(hub_server, tmp_path):
    spec = small_spec(ARTISTIC)
    canary = tmp_path / "canary"
    data, refused = _hostile_files(tmp_path, canary)["reduce_os_system"]
    publish_source(hub_server, spec, {FILES[ARTISTIC]: data})
    with pytest.raises(CheckpointError, match=refused):
        build_generator(spec)
    assert not canary.exists()


def test_cli_converts_a_fastai_file_into_a_model_folder(tmp_path):
    """``gan-studio convert ColorizeArtistic_gen.pth out --architecture deoldify`` reads the fastai pickle
    through the allow-list and writes our folder (safetensors), which loads back strictly."""
    from gan_studio.cli import main

    module = small_module(ARTISTIC, seed=5)
    src = tmp_path / "ColorizeArtistic_gen.pth"
    src.write_bytes(fastai_file(module.state_dict()))
    assert main(["convert", str(src), str(tmp_path / "out"), "--architecture", "deoldify",
                 "--kwargs", json.dumps(SMALL[ARTISTIC]), "--license", "mit"]) == 0
    again = DeOldifyUnet.from_pretrained(tmp_path / "out")
    assert again.config["encoder"] == "resnet18" and again.contract.task.value == "colorization"
    assert all(torch.equal(again.state_dict()[k], v) for k, v in module.state_dict().items())


@pytest.mark.slow
def test_full_size_artistic_file_through_the_hub(hub_server):
    """The Artistic entry at its published size (a 255 MB fastai file of seeded random weights) through
    the Hub, the allow-list and the studio at render factor 10; the reference numbers of
    this config are checked in test_numbers_match_the_reference_code."""
    spec = load_registry().get(ARTISTIC)
    module = DeOldifyUnet(**{k: v for k, v in spec.kwargs.items()})
    module.load_state_dict(seeded_state(module.state_dict(), seed=11), strict=True)
    data = fastai_file(module.state_dict())
    assert abs(len(data) - 255_144_681) < 2_000_000  # the published file's size, give or take the optimizer state
    publish_source(hub_server, spec, {FILES[ARTISTIC]: data})
    del data
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8)).convert("L")
    result = studio.colorize(ARTISTIC, photo, working_size=16 * 10)  # render factor 10: 160 × 160
    assert result.image.size == photo.size and result.params["working_size"] == 160
    loaded = studio.load(ARTISTIC)
    assert all(torch.equal(loaded.module.state_dict()[k], v) for k, v in module.state_dict().items())
