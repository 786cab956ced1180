"""StyleGAN2 in NVIDIA's layout: the same numbers as NVIDIA's code, and network pickles read safely.

``tests/data/stylegan2_nvidia_reference.safetensors`` holds reference numbers derived by running
NVIDIA's stylegan2-ada-pytorch ``training/networks.py`` (on CPU, ``force_fp32=True``) on three small
randomly initialised generators: their state dicts (NVIDIA's keys), latents, and the images for
(ψ = 1, noise "const") and (ψ = 0.6 on the first 2 ws, noise "none"). No NVIDIA code is in the
repository; the networks are rebuilt here by the studio's own module.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from network_pickles import persistent, write_network_pickle

from gan_studio.architectures import ARCHITECTURES, StyleGAN2Generator
from gan_studio.errors import CheckpointError
from gan_studio.network_pickle import read_network_pickle

REFERENCE = Path(__file__).resolve().parent / "data" / "stylegan2_nvidia_reference.safetensors"
CASES = {
    "skip16": {"z_dim": 16, "c_dim": 0, "w_dim": 16, "img_resolution": 16, "img_channels": 3,
               "mapping_kwargs": {"num_layers": 2},
               "synthesis_kwargs": {"channel_base": 256, "channel_max": 32, "conv_clamp": 256, "architecture": "skip"}},
    "cond_resnet8": {"z_dim": 8, "c_dim": 4, "w_dim": 12, "img_resolution": 8, "img_channels": 3,
                     "mapping_kwargs": {"num_layers": 3},
                     "synthesis_kwargs": {"channel_base": 64, "channel_max": 16, "conv_clamp": None,
                                          "architecture": "resnet"}},
    "orig8": {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 8, "img_channels": 1,
              "mapping_kwargs": {"num_layers": 1},
              "synthesis_kwargs": {"channel_base": 64, "channel_max": 8, "architecture": "orig"}},
}
LABELS = torch.tensor([0, 3, 1])


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(REFERENCE))


def reference_generator(reference: dict[str, torch.Tensor], case: str) -> StyleGAN2Generator:
    G = StyleGAN2Generator(**CASES[case]).eval()
    prefix = f"{case}/sd/"
    G.load_state_dict({k[len(prefix):]: v for k, v in reference.items() if k.startswith(prefix)}, strict=True)
    return G


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_keys_and_same_numbers_as_nvidias_code(reference: dict[str, torch.Tensor], case: str) -> None:
    G = reference_generator(reference, case)
    prefix = f"{case}/sd/"
    assert set(G.state_dict()) == {k[len(prefix):] for k in reference if k.startswith(prefix)}
    labels = LABELS if CASES[case]["c_dim"] else None
    z = reference[f"{case}/z"]
    with torch.no_grad():
        const = G(z, labels, truncation=1.0, noise_mode="const")
        truncated = G(z, labels, truncation=0.6, truncation_cutoff=2, noise_mode="none")
    torch.testing.assert_close(const, reference[f"{case}/img_const"], atol=1e-5, rtol=0)
    torch.testing.assert_close(truncated, reference[f"{case}/img_trunc"], atol=1e-5, rtol=0)
    assert not torch.allclose(const, truncated)  # the two settings really differ


def test_the_contract_and_the_controls(reference: dict[str, torch.Tensor]) -> None:
    G = reference_generator(reference, "skip16")
    contract = G.contract
    assert contract.latent_dim == 16 and contract.truncation == "w" and contract.native_size == 16
    assert reference_generator(reference, "cond_resnet8").contract.num_classes == 4
    z = reference["skip16/z"]
    with torch.no_grad():
        torch.manual_seed(0)
        a = G(z, noise_mode="random")
        torch.manual_seed(0)
        b = G(z, noise_mode="random")
        c = G(z, noise_mode="const")
    assert torch.equal(a, b) and not torch.equal(a, c)  # random noise follows torch's seeded RNG
    with pytest.raises(ValueError, match="unknown noise_mode 'loud'; choose one of: const, random, none"):
        G(z, noise_mode="loud")
    with pytest.raises(ValueError, match="unconditional .c_dim=0.; it takes no labels"):
        G(z, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="synthesis_kwargs has unknown keys \\['channels'\\]"):
        StyleGAN2Generator(synthesis_kwargs={"channels": 3})


# ---- network pickles --------------------------------------------------------------------------------
HARMLESS_SRC = "# the networks module would be here; the studio never runs it\n"


def canary_src(canary: Path) -> str:
    return f"open({str(canary)!r}, 'w').write('ran')\nimport os\nos.system('touch {canary}')\n"


def nvidia_pickle(reference: dict[str, torch.Tensor], case: str, path: Path, *, module_src: str = HARMLESS_SRC,
                  extra_state: dict[str, object] | None = None) -> Path:
    G = reference_generator(reference, case)
    return write_network_pickle(path, {"G_ema": persistent(G, module_src=module_src, init_kwargs=CASES[case],
                                                           extra_state=extra_state),
                                       "training_set_kwargs": {"resolution": CASES[case]["img_resolution"]}})


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_network_pickle_becomes_the_same_generator(reference: dict[str, torch.Tensor], case: str,
                                                      tmp_path: Path) -> None:
    from gan_studio.convert import from_network_pickle

    path = nvidia_pickle(reference, case, tmp_path / f"{case}.pkl")
    module, architecture, kwargs = from_network_pickle(path)
    assert architecture == "stylegan2" and kwargs == CASES[case]
    labels = LABELS if CASES[case]["c_dim"] else None
    with torch.no_grad():
        out = module(reference[f"{case}/z"], labels, noise_mode="const")
    torch.testing.assert_close(out, reference[f"{case}/img_const"], atol=1e-5, rtol=0)


def test_a_stylegan3_codebase_pickle_with_flat_synthesis_keywords_becomes_the_same_generator(
        reference: dict[str, torch.Tensor], tmp_path: Path) -> None:
    """NVIDIA's stylegan3 repo pickles StyleGAN2 networks with ``**synthesis_kwargs`` flat at the top
    level (plus ``fused_modconv_default``); the converter nests them for this constructor."""
    from gan_studio.convert import from_network_pickle

    case = "skip16"
    flat = {k: v for k, v in CASES[case].items() if k != "synthesis_kwargs"}
    flat.update(CASES[case]["synthesis_kwargs"], fused_modconv_default="inference_only")
    G = reference_generator(reference, case)
    path = write_network_pickle(tmp_path / "sg3-codebase.pkl",
                                {"G_ema": persistent(G, module_src=HARMLESS_SRC, init_kwargs=flat)})
    module, architecture, kwargs = from_network_pickle(path)
    assert architecture == "stylegan2" and kwargs == CASES[case]
    with torch.no_grad():
        out = module(reference[f"{case}/z"], noise_mode="const")
    torch.testing.assert_close(out, reference[f"{case}/img_const"], atol=1e-5, rtol=0)


class _Reduce:
    """An object that pickles as ``func(*args)``."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


def _hostile_cases(reference: dict[str, torch.Tensor], tmp: Path, canary: Path) -> dict[str, tuple[Path, str | None]]:
    """name -> (file, the message it must be refused with; None = loads, with nothing run)."""
    import builtins

    def plain(name: str, obj: object) -> Path:
        path = tmp / f"{name}.pkl"
        path.write_bytes(pickle.dumps(obj, protocol=4))
        return path

    good = nvidia_pickle(reference, "orig8", tmp / "good.pkl")
    evil_torch_file = tmp / "evil.pt"
    torch.save({"x": _Reduce(os.system, f"touch {canary}")}, evil_torch_file)
    return {
        "os.system": (plain("system", {"G_ema": _Reduce(os.system, f"touch {canary}")}), "refused global posix.system"),
        "subprocess": (plain("popen", _Reduce(subprocess.Popen, ["touch", str(canary)])),
                       "refused global subprocess.Popen"),
        "eval": (plain("eval", _Reduce(builtins.eval, f"open({str(canary)!r}, 'w')")), "refused global builtins.eval"),
        "exec": (plain("exec", _Reduce(builtins.exec, f"open({str(canary)!r}, 'w')")), "refused global builtins.exec"),
        "getattr chain": (plain("getattr", _Reduce(getattr, _Reduce(builtins.__import__, "os"), "system")),
                          "refused global builtins.getattr"),
        "module_src that writes a file": (nvidia_pickle(reference, "orig8", tmp / "src.pkl",
                                                       module_src=canary_src(canary)), None),
        "payload nested in a network's state": (
            nvidia_pickle(reference, "orig8", tmp / "nested.pkl",
                          extra_state={"_forward_hooks": {0: _Reduce(os.system, f"touch {canary}")}}),
            "refused global posix.system"),
        "an unknown class": (plain("class", {"G_ema": StyleGAN2Generator(**CASES["orig8"])}),
                             "refused global gan_studio.architectures.stylegan2.StyleGAN2Generator"),
        "a storage whose bytes run code": (plain("storage", _Reduce(torch.storage._load_from_bytes,
                                                                    evil_torch_file.read_bytes())),
                                           "cannot be read weights-only"),
        "a truncated file": (tmp / "truncated.pkl", "not a readable network pickle"),
        "persistent ids (a torch.save file)": (tmp / "saved.pt", "persistent ids"),
        "no G_ema": (plain("empty", {"G": None}), "has no network 'G_ema'"),
    } | {"_good": (good, None)}


def test_hostile_pickles_are_refused_and_run_nothing(reference: dict[str, torch.Tensor], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # must not turn on full unpickling anywhere
    canary = tmp_path / "canary"
    cases = _hostile_cases(reference, tmp_path, canary)
    good = cases["_good"][0].read_bytes()
    (tmp_path / "truncated.pkl").write_bytes(good[: len(good) // 2])
    with open(tmp_path / "saved.pt", "wb") as f:  # a pickle that refers to storages by persistent id, as torch.save does
        pickler = pickle.Pickler(f, protocol=4)
        pickler.persistent_id = lambda obj: ("storage", "0") if isinstance(obj, torch.Tensor) else None  # type: ignore[method-assign]
        pickler.dump({"G_ema": torch.zeros(2)})
    for name, (path, refusal) in cases.items():
        if refusal is None:
            pkl = read_network_pickle(path)
            assert pkl.class_name == "Generator" and "mapping.w_avg" in pkl.state_dict, name
        else:
            with pytest.raises(CheckpointError, match=refusal.replace(".", r"\.")):
                read_network_pickle(path)
        assert not canary.exists(), f"{name}: code from the file ran"


def test_convert_turns_a_network_pickle_into_a_studio_folder(reference: dict[str, torch.Tensor], tmp_path: Path) -> None:
    from gan_studio.cli import main
    from gan_studio.studio import Studio

    src = nvidia_pickle(reference, "skip16", tmp_path / "network-snapshot.pkl")
    out = tmp_path / "converted"
    assert main(["convert", str(src), str(out)]) == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "non-commercial" in card and "stylegan2" in card
    again = ARCHITECTURES["stylegan2"].from_pretrained(out)
    torch.testing.assert_close(again.state_dict()["mapping.w_avg"], reference["skip16/sd/mapping.w_avg"])
    studio = Studio(device="cpu", precision="fp32", channels_last="off")
    images = studio.generate(str(out), seed=3, n=2, truncation=0.7)
    assert [r.image.size for r in images] == [(16, 16), (16, 16)]
    assert images[0].params["truncation"] == 0.7 and images[0].params["architecture"] == "stylegan2"
    plain = studio.generate(str(out), seed=3, n=1)[0]
    assert plain.image.tobytes() != images[0].image.tobytes()  # ψ changed the image
    from gan_studio.errors import UserInputError

    with pytest.raises(UserInputError, match="truncation ψ .* must be in \\[-1, 2\\]"):
        studio.generate(str(out), seed=3, truncation=5)


def test_no_module_of_the_studio_calls_plain_pickle_load() -> None:
    package = Path(__file__).resolve().parent.parent / "gan_studio"
    offenders = [str(p) for p in package.rglob("*.py")
                 if "pickle.load(" in p.read_text(encoding="utf-8") or "pickle.loads(" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders
    assert sys.modules.get("torch_utils") is None  # nothing ever imported NVIDIA's modules
