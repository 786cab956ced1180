"""ProGAN and StyleGAN v1 in genforce's layout: the same keys and numbers as genforce's code, and
genforce checkpoints (``pytorch_model.bin`` holding ``generator_smooth``) converted and generated from.

``tests/data/genforce_reference.safetensors`` holds reference numbers derived by running genforce's
``models/pggan_generator.py`` and ``models/stylegan_generator.py`` (genforce/genforce@197feee, on CPU)
on four small generators (configs in the file's metadata and in ``PGGAN``/``STYLEGAN`` below) whose
weights are genforce's random initialisation with every bias, noise strength, noise map, constant,
style bias and ``w_avg`` replaced by N(0, 0.5²) values: their state dicts (genforce's keys), latents,
and the images at lod 0 (StyleGAN: stored noise, ``randomize_noise=False``), lod 0.5 and 1 (PGGAN) /
0.5 (StyleGAN), and StyleGAN with ``trunc_psi=0.7, trunc_layers=3``. Conditional cases got the one-hot
vectors of ``LABELS``. No genforce code is in the repository; the studio's own modules rebuild them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gan_studio.architectures import ARCHITECTURES, PGGANGenerator, StyleGANv1Generator, build_architecture
from gan_studio.contract import Task
from gan_studio.errors import UnknownArchitectureError

REFERENCE = Path(__file__).resolve().parent / "data" / "genforce_reference.safetensors"
PGGAN = {
    "pg16": {"resolution": 16, "z_space_dim": 8, "image_channels": 3, "final_tanh": False, "label_size": 0,
             "fused_scale": False, "use_wscale": True, "fmaps_base": 128, "fmaps_max": 16},
    "pg8_cond_fused": {"resolution": 8, "z_space_dim": 6, "image_channels": 1, "final_tanh": True, "label_size": 3,
                       "fused_scale": True, "use_wscale": True, "fmaps_base": 32, "fmaps_max": 8},
}
STYLEGAN = {
    "sg16": {"resolution": 16, "z_space_dim": 8, "w_space_dim": 8, "label_size": 0, "mapping_layers": 2,
             "mapping_fmaps": 12, "mapping_lr_mul": 0.01, "repeat_w": True, "image_channels": 3, "final_tanh": False,
             "const_input": True, "fused_scale": False, "use_wscale": True, "noise_type": "spatial",
             "fmaps_base": 128, "fmaps_max": 16},
    "sg8_cond_fused": {"resolution": 8, "z_space_dim": 6, "w_space_dim": 4, "label_size": 3, "mapping_layers": 3,
                       "mapping_fmaps": 8, "mapping_lr_mul": 0.01, "repeat_w": False, "image_channels": 1,
                       "final_tanh": True, "const_input": False, "fused_scale": True, "use_wscale": True,
                       "noise_type": "channel", "fmaps_base": 32, "fmaps_max": 8},
}
LABELS = torch.tensor([0, 2, 1])


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(REFERENCE))


def state_dict_of(reference: dict[str, torch.Tensor], case: str) -> dict[str, torch.Tensor]:
    prefix = f"{case}/sd/"
    return {k[len(prefix):]: v for k, v in reference.items() if k.startswith(prefix)}


def build(reference: dict[str, torch.Tensor], case: str) -> PGGANGenerator | StyleGANv1Generator:
    cls = PGGANGenerator if case in PGGAN else StyleGANv1Generator
    G = cls(**{**PGGAN, **STYLEGAN}[case]).eval()
    G.load_state_dict(state_dict_of(reference, case), strict=True)
    return G


def test_the_configs_are_those_the_reference_was_made_with() -> None:
    from safetensors import safe_open

    with safe_open(str(REFERENCE), "pt") as f:
        meta = f.metadata()
    assert json.loads(meta["pggan"]) == PGGAN and json.loads(meta["stylegan1"]) == STYLEGAN
    assert json.loads(meta["labels"]) == LABELS.tolist() and "genforce/genforce@197feee" in meta["source"]


@pytest.mark.parametrize("case", sorted(PGGAN))
def test_pggan_same_keys_and_same_numbers_as_genforce(reference: dict[str, torch.Tensor], case: str) -> None:
    G = build(reference, case)
    assert set(G.state_dict()) == set(state_dict_of(reference, case))
    labels = LABELS if PGGAN[case]["label_size"] else None
    z = reference[f"{case}/z"]
    images = {}
    with torch.no_grad():
        for name, lod in (("img", 0.0), ("img_lod0.5", 0.5), ("img_lod1", 1.0)):
            G.lod.fill_(lod)
            images[name] = G(z, labels)
            torch.testing.assert_close(images[name], reference[f"{case}/{name}"], atol=1e-5, rtol=0)
    assert not torch.allclose(images["img"], images["img_lod0.5"])  # the level of detail really blends
    G.lod.fill_(G.num_blocks)  # past the coarsest block
    with pytest.raises(ValueError, match=r"level of detail \(lod\) must be in \[0, "):
        G(z, labels)


@pytest.mark.parametrize("case", sorted(STYLEGAN))
def test_stylegan1_same_keys_and_same_numbers_as_genforce(reference: dict[str, torch.Tensor], case: str) -> None:
    G = build(reference, case)
    assert isinstance(G, StyleGANv1Generator)
    assert set(G.state_dict()) == set(state_dict_of(reference, case))
    labels = LABELS if STYLEGAN[case]["label_size"] else None
    z = reference[f"{case}/z"]
    with torch.no_grad():
        const = G(z, labels)
        truncated = G(z, labels, truncation=0.7, truncation_cutoff=3, noise_mode="const")
        G.synthesis.lod.fill_(0.5)
        grown = G(z, labels)
    torch.testing.assert_close(const, reference[f"{case}/img"], atol=1e-5, rtol=0)
    torch.testing.assert_close(truncated, reference[f"{case}/img_trunc"], atol=1e-5, rtol=0)
    torch.testing.assert_close(grown, reference[f"{case}/img_lod0.5"], atol=1e-5, rtol=0)
    assert not torch.allclose(const, truncated) and not torch.allclose(const, grown)


def test_contracts(reference: dict[str, torch.Tensor]) -> None:
    pg, pg_cond = build(reference, "pg16").contract, build(reference, "pg8_cond_fused").contract
    assert (pg.task, pg.latent_dim, pg.num_classes, pg.truncation, pg.native_size, pg.out_channels) == (
        Task.UNCONDITIONAL, 8, 0, "trick", 16, 3)
    assert (pg_cond.task, pg_cond.num_classes, pg_cond.out_channels, pg_cond.native_size) == (
        Task.CONDITIONAL, 3, 1, 8)
    sg, sg_cond = build(reference, "sg16").contract, build(reference, "sg8_cond_fused").contract
    assert (sg.task, sg.latent_dim, sg.truncation, sg.native_size, sg.takes_truncation_input) == (
        Task.UNCONDITIONAL, 8, "w", 16, True)
    assert (sg_cond.task, sg_cond.num_classes) == (Task.CONDITIONAL, 3)
    assert ARCHITECTURES["pggan"] is PGGANGenerator and ARCHITECTURES["stylegan1"] is StyleGANv1Generator


def test_stylegan1_controls(reference: dict[str, torch.Tensor]) -> None:
    G = build(reference, "sg16")
    z = reference["sg16/z"]
    with torch.no_grad():
        torch.manual_seed(0)
        a = G(z, noise_mode="random")
        torch.manual_seed(0)
        b = G(z, noise_mode="random")
        const, none = G(z), G(z, noise_mode="none")
        everywhere = G(z, truncation=0.7)  # cutoff None: every layer
        first3 = G(z, truncation=0.7, truncation_cutoff=3)
        mean = G(z, truncation=0.0)
        mean_other = G(torch.randn(3, 8), truncation=0.0)
    assert torch.equal(a, b) and not torch.allclose(a, const) and not torch.allclose(none, const)
    assert not torch.allclose(everywhere, first3)
    torch.testing.assert_close(mean, mean_other)  # ψ = 0: every z maps to w_avg
    with pytest.raises(ValueError, match="unknown noise_mode 'loud'; choose one of: const, random, none"):
        G(z, noise_mode="loud")
    with pytest.raises(ValueError, match="truncation_cutoff must be in 0 … 6, got 7"):
        G(z, truncation=0.5, truncation_cutoff=7)
    with pytest.raises(ValueError, match="unconditional .label_size=0.; it takes no labels"):
        G(z, LABELS)
    cond = build(reference, "sg8_cond_fused")
    with pytest.raises(ValueError, match="class-conditional .3 classes.; pass labels"):
        cond(reference["sg8_cond_fused/z"])
    with pytest.raises(ValueError, match=r"class labels must be in 0 … 2, got \[0, 3, 1\]"):
        cond(reference["sg8_cond_fused/z"], torch.tensor([0, 3, 1]))
    one_hot = torch.nn.functional.one_hot(LABELS, 3).float()
    with torch.no_grad():  # float label vectors are taken as given (genforce's own input)
        torch.testing.assert_close(cond(reference["sg8_cond_fused/z"], one_hot),
                                   cond(reference["sg8_cond_fused/z"], LABELS), atol=0, rtol=0)


@pytest.mark.parametrize(("name", "kwargs", "needle"), [
    ("pggan", {"resolution": 48}, "resolution must be one of 8, 16, 32, 64, 128, 256, 512, 1024, got 48"),
    ("pggan", {"resolution": 8, "z_space_dim": 0}, "z_space_dim must be a positive int, got 0"),
    ("pggan", {"resolution": 8, "fused_scale": "auto"}, "fused_scale must be true or false, got 'auto'"),
    ("stylegan1", {"resolution": 8, "fused_scale": "maybe"}, "fused_scale must be true, false or 'auto', got 'maybe'"),
    ("stylegan1", {"resolution": 8, "noise_type": "pink"}, "unknown noise_type 'pink'; choose one of: spatial, channel"),
    ("stylegan1", {"resolution": 8, "fmaps_base": 4, "fmaps_max": 4}, "fmaps_base=4 leaves no channels at 8 px"),
])
def test_bad_configs_are_named(name: str, kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(UnknownArchitectureError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        build_architecture(name, kwargs)


def test_the_published_configs_have_the_published_keys() -> None:
    """huggan/pggan-celebahq-1024 and huggan/stylegan_animeface512: key names and counts (on the meta device)."""
    with torch.device("meta"):
        pg = PGGANGenerator(resolution=1024).state_dict()
        sg = StyleGANv1Generator(resolution=512).state_dict()
    assert set(pg) == {"lod"} | {f"layer{i}.{p}" for i in range(18) for p in ("weight", "bias")} | {
        f"output{i}.{p}" for i in range(9) for p in ("weight", "bias")}
    assert tuple(pg["layer0.weight"].shape) == (512, 512, 4, 4) and tuple(pg["output8.weight"].shape) == (3, 16, 1, 1)
    assert {k for k in sg if k.startswith("mapping.")} == {f"mapping.dense{i}.{p}" for i in range(8)
                                                          for p in ("weight", "bias")}
    assert "truncation.w_avg" in sg and "synthesis.lod" in sg and "synthesis.layer0.const" in sg
    assert "synthesis.layer0.weight" not in sg and "synthesis.layer15.style.weight" in sg
    assert {k for k in sg if k.endswith("blur.kernel")} == {f"synthesis.layer{2 * i}.blur.kernel" for i in range(1, 8)}
    assert tuple(sg["synthesis.layer14.weight"].shape) == (32, 64, 3, 3)  # 512 px: fused (auto), same weight layout
    assert len(sg) == 2 * 8 + 1 + 1 + 16 * 6 + 7 + 2 * 8  # mapping, w_avg, lod, 16 layers, blur kernels, outputs


@pytest.mark.parametrize("case", [*sorted(PGGAN), *sorted(STYLEGAN)])
def test_the_layout_is_recognised_and_its_config_read_off_the_shapes(reference: dict[str, torch.Tensor],
                                                                     case: str) -> None:
    from gan_studio.convert import build_and_load, detect_architecture, guess_kwargs

    name = "pggan" if case in PGGAN else "stylegan1"
    config = {**PGGAN, **STYLEGAN}[case]
    sd = state_dict_of(reference, case)
    assert detect_architecture(sd) == name
    guessed = guess_kwargs(sd, name)
    unseen = {"z_space_dim", "label_size"} if name == "pggan" and config["label_size"] else set()
    assert {k: v for k, v in guessed.items() if k not in unseen} == {
        k: config[k] for k in guessed if k not in unseen}
    assert {"resolution", "fmaps_base", "fmaps_max", "image_channels"} <= set(guessed)
    build_and_load(sd, name, guessed)  # strict: the guessed config has the checkpoint's layout


def test_a_wrong_config_gets_a_hint(reference: dict[str, torch.Tensor]) -> None:
    from gan_studio.convert import build_and_load
    from gan_studio.errors import CheckpointError

    with pytest.raises(CheckpointError, match='hint: .*\'stylegan1\' with .*"resolution": 16'):
        build_and_load(state_dict_of(reference, "sg16"), "stylegan1", {**STYLEGAN["sg16"], "resolution": 32})


def genforce_checkpoint(path: Path, state_dict: dict[str, torch.Tensor]) -> Path:
    """A ``pytorch_model.bin`` as genforce's runners save it: the EMA generator under ``generator_smooth``
    next to the trained one under ``generator``."""
    trained = {k: v + 1 if v.is_floating_point() and k not in ("lod", "synthesis.lod") else v
               for k, v in state_dict.items()}
    torch.save({"generator": trained, "generator_smooth": state_dict}, path)
    return path


@pytest.mark.parametrize("case", ["pg16", "sg16"])
def test_a_genforce_checkpoint_converts_and_generates(reference: dict[str, torch.Tensor], case: str,
                                                      tmp_path: Path) -> None:
    from gan_studio.cli import main
    from gan_studio.studio import Studio

    name = "pggan" if case in PGGAN else "stylegan1"
    kwargs = {**PGGAN, **STYLEGAN}[case]
    src = genforce_checkpoint(tmp_path / "pytorch_model.bin", state_dict_of(reference, case))
    out = tmp_path / "converted"
    assert main(["convert", str(src), str(out), "--architecture", name, "--key", "generator_smooth",
                 "--kwargs", json.dumps(kwargs)]) == 0
    again = ARCHITECTURES[name].from_pretrained(out)  # strict
    assert again.config == kwargs
    with torch.no_grad():
        torch.testing.assert_close(again(reference[f"{case}/z"]), reference[f"{case}/img"], atol=1e-5, rtol=0)
    # without --key the EMA generator is found first
    assert main(["convert", str(src), str(tmp_path / "auto"), "--architecture", name, "--kwargs", json.dumps(kwargs)]) == 0
    auto = ARCHITECTURES[name].from_pretrained(tmp_path / "auto")
    for key, value in again.state_dict().items():
        assert torch.equal(value, auto.state_dict()[key]), key

    studio = Studio(device="cpu")
    results = studio.generate(str(out), seed=1, n=1)
    assert results[0].image.size == (16, 16) and results[0].params["architecture"] == name
    if name == "stylegan1":
        truncated = studio.generate(str(out), seed=1, n=1, truncation=0.7)[0]
        assert truncated.params["truncation"] == 0.7
        assert truncated.image.tobytes() != results[0].image.tobytes()
