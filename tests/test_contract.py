"""The generator contract: every architecture declares it, the studio reads only it, and a new
architecture needs its own file, one line in the table and a catalogue entry, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_studio.architectures import ARCHITECTURES, Generator, build_architecture, recognise_config
from gan_studio.contract import GENERATION_TASKS, IMAGE_TASKS, JOBS, Contract, Task, job_of
from gan_studio.errors import CheckpointError, UserInputError

# A small config per architecture (diffusion is built from a diffusers folder, tested in test_diffusion.py).
SMALL: dict[str, dict[str, object]] = {
    "dcgan": {"nz": 8, "ngf": 4, "nc": 1, "image_size": 16},
    "conditional_dcgan": {"nz": 8, "ngf": 4, "nc": 1, "image_size": 16, "num_classes": 3, "embed_dim": 4},
    "cyclegan_resnet": {"ngf": 4, "n_blocks": 1},
    "pix2pix_unet": {"ngf": 4, "num_downs": 5},
    "stargan": {"conv_dim": 4, "c_dim": 3, "repeat_num": 1},
    "colorization_unet": {"base_channels": 4, "depth": 2},
    "animegan2": {},
    "huggan_pix2pix_unet": {"ngf": 4},
    "huggan_cyclegan_resnet": {"ngf": 4, "num_residual_blocks": 1},
    "biggan_deep": {"attention_layer_position": 3, "channel_width": 4, "class_embed_dim": 8, "num_classes": 10,
                    "layers": [[False, 16, 16], [True, 16, 8], [True, 8, 4], [False, 4, 2], [True, 2, 1]],
                    "output_dim": 32, "z_dim": 8},
    "stylegan2": {"z_dim": 8, "w_dim": 8, "img_resolution": 16, "mapping_kwargs": {"num_layers": 1},
                  "synthesis_kwargs": {"channel_base": 64, "channel_max": 8}},
    "stylegan3": {"z_dim": 8, "w_dim": 8, "img_resolution": 16, "mapping_kwargs": {"num_layers": 1},
                  "channel_base": 256, "channel_max": 16, "num_layers": 4, "num_critical": 1, "margin_size": 2},
    "stylegan1": {"resolution": 16, "z_space_dim": 8, "w_space_dim": 8, "mapping_layers": 2, "mapping_fmaps": 8,
                  "fmaps_base": 64, "fmaps_max": 8},
    "pggan": {"resolution": 16, "z_space_dim": 8, "fmaps_base": 64, "fmaps_max": 8},
    "fastgan": {"nz": 8, "ngf": 4, "im_size": 256},
    "ddcolor": {"encoder_name": "convnext-t", "input_size": [32, 32], "num_queries": 4, "dec_layers": 1},
    "deoldify": {"encoder": "resnet18", "nf_factor": 0.25},  # the smallest ResNet body: 88 MB
    "rrdbnet": {"scale": 2, "num_feat": 8, "num_block": 1, "num_grow_ch": 4},
    "srvgg_compact": {"num_feat": 4, "num_conv": 2},
}


def test_every_architecture_but_diffusion_has_a_small_config_here() -> None:
    assert set(SMALL) == set(ARCHITECTURES) - {"diffusion"}  # diffusion: tests/test_diffusion.py


def test_the_job_groups_are_written_once_and_cover_every_task() -> None:
    assert sorted(t for tasks in JOBS.values() for t in tasks) == sorted(Task)
    assert GENERATION_TASKS == JOBS["generate"] and set(IMAGE_TASKS) == set(JOBS["translate"] + JOBS["colorize"])
    assert job_of(Task.MULTIDOMAIN) == "translate" and job_of(Task.CONDITIONAL) == "generate"


def test_a_contract_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="truncation must be one of .None, 'trick', 'input', 'w'., got 'maybe'"):
        Contract(task=Task.UNCONDITIONAL, truncation="maybe")
    with pytest.raises(ValueError, match="size_multiple must be >= 1, got 0"):
        Contract(task=Task.TRANSLATION, size_multiple=0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_architecture_declares_a_contract_that_matches_what_it_does(name: str) -> None:
    module = build_architecture(name, SMALL[name]).eval()
    contract = module.contract
    assert isinstance(module, Generator) and module.architecture == name
    assert contract.task == module.default_task
    torch.manual_seed(0)
    with torch.no_grad():
        if contract.takes_latent:
            z = torch.randn(2, contract.latent_dim)
            args: list[object] = [z]
            if contract.num_classes:
                args.append(torch.tensor([0, contract.num_classes - 1]))
            kwargs = {"truncation": 0.5} if contract.takes_truncation_input else {}
            out = module(*args, **kwargs)
            assert out.shape[0] == 2 and out.shape[1] == contract.out_channels
            if contract.native_size:
                assert out.shape[-1] == contract.native_size
        else:
            side = max(contract.size_multiple, 32)
            x = torch.rand(1, contract.in_channels, side, side) * 2 - 1
            out = module(x, torch.ones(1, contract.condition_dim)) if contract.condition_dim else module(x)
            side_out = side * contract.scale  # upscalers enlarge by their declared scale; the rest keep the size
            assert out.shape == (1, contract.out_channels, side_out, side_out)
    if contract.stochastic:  # a model that draws random numbers at inference may not be compiled or reordered
        assert not contract.compile and not contract.channels_last


@pytest.mark.parametrize("name", sorted(SMALL))
def test_save_pretrained_and_from_pretrained_round_trip_strictly(name: str, tmp_path: Path) -> None:
    module = build_architecture(name, SMALL[name]).eval()
    folder = module.save_pretrained(tmp_path / name, meta={"license": "mit"}, card="# card\n")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["_gan_studio"]["architecture"] == name and config["_gan_studio"]["license"] == "mit"
    assert (folder / "model.safetensors").is_file() and (folder / "README.md").read_text() == "# card\n"
    again = ARCHITECTURES[name].from_pretrained(folder)
    assert again.config == module.config and not again.training
    for key, value in module.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    # strict: one missing tensor is refused, naming it
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    dropped = sorted(tensors)[0]
    del tensors[dropped]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=dropped.replace(".", r"\.")):
        ARCHITECTURES[name].from_pretrained(folder)


def test_from_pretrained_refuses_another_architectures_folder(tmp_path: Path) -> None:
    build_architecture("dcgan", SMALL["dcgan"]).save_pretrained(tmp_path / "d")
    with pytest.raises(CheckpointError, match="holds a 'dcgan' model, not 'stargan'"):
        ARCHITECTURES["stargan"].from_pretrained(tmp_path / "d")


def test_foreign_configs_are_recognised_by_their_architecture() -> None:
    found = recognise_config({"_class_name": "UNet2DModel", "sample_size": 16, "in_channels": 1,
                              "out_channels": 1, "num_class_embeds": 4})
    assert found is not None
    name, meta = found
    assert name == "diffusion" and meta["task"] == "conditional" and meta["labels"] == ["0", "1", "2", "3"]
    assert recognise_config({"nz": 100}) is None


# ---- the walk-through of docs/architecture.md, "Adding an architecture" -----------------------------
class ToyGenerator(Generator):
    """A new family: an image from a latent through one linear layer (its own file, in real life).

    Args:
        z_dim: latent length.
        side: output side in pixels.
    """

    architecture = "toy"
    default_task = Task.UNCONDITIONAL

    def __init__(self, z_dim: int = 4, side: int = 8) -> None:
        super().__init__()
        self.z_dim, self.side = z_dim, side
        self.fc = nn.Linear(z_dim, 3 * side * side)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.UNCONDITIONAL, latent_dim=self.z_dim, truncation="trick", native_size=self.side)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).view(-1, 3, self.side, self.side)


class ToyTranslator(Generator):
    """A new image family with an unusual size rule: sides must be a multiple of 6."""

    architecture = "toy_translator"
    default_task = Task.TRANSLATION

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.TRANSLATION, in_channels=self.channels, out_channels=self.channels, size_multiple=6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 6 or x.shape[-2] % 6:
            raise ValueError(f"sides must be multiples of 6, got {tuple(x.shape[-2:])}")
        return torch.tanh(self.conv(x))


def test_a_new_architecture_needs_only_its_file_the_table_and_the_catalogue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from gan_studio.metadata import read_metadata
    from gan_studio.studio import Studio

    # 1. its own file (the classes above) -> 2. one line in the table
    monkeypatch.setitem(ARCHITECTURES, "toy", ToyGenerator)
    monkeypatch.setitem(ARCHITECTURES, "toy_translator", ToyTranslator)
    torch.manual_seed(0)
    ToyGenerator(z_dim=4, side=8).save_pretrained(tmp_path / "toy", meta={"license": "mit"})
    ToyTranslator().save_pretrained(tmp_path / "toy-tr", meta={"license": "mit"})
    # 3. the catalogue (here a user models file in the same format)
    models = tmp_path / "models.toml"
    models.write_text(f'[[model]]\nid = "toy"\npath = "{tmp_path / "toy"}"\n\n'
                      f'[[model]]\nid = "toy-tr"\npath = "{tmp_path / "toy-tr"}"\n', encoding="utf-8")

    studio = Studio(models_file=str(models), device="cpu", precision="fp32", channels_last="off")
    images = studio.generate("toy", seed=3, n=2, truncation=0.8)
    assert [im.image.size for im in images] == [(8, 8), (8, 8)]
    assert images[0].params["architecture"] == "toy" and images[0].params["truncation"] == 0.8
    assert read_metadata(images[0].png_bytes())["seed"] == 3
    with pytest.raises(UserInputError, match="steps"):
        studio.generate("toy", seed=3, steps=4)  # the contract says it takes none

    photo = Image.new("RGB", (50, 37), (200, 100, 50))
    out = studio.translate("toy-tr", photo, working_size=20)  # working sides rounded to multiples of 6
    assert out.image.size == (50, 37) and out.source is not None and out.source.size == out.image.size
    tiled = studio.translate("toy-tr", Image.new("RGB", (90, 70)), full_resolution=True, tile_size=36, overlap=12)
    assert tiled.image.size == (90, 70)


def test_a_saved_folder_published_on_the_hub_loads_back_by_repo_id(hub_server, tmp_path: Path) -> None:
    """save_pretrained writes what push_to_hub uploads; from_pretrained reads it back from the Hub
    (through gan_studio.hub, strictly). The test Hub serves downloads; uploads are checked to fail
    clearly when the Hub cannot be reached."""
    module = build_architecture("conditional_dcgan", SMALL["conditional_dcgan"]).eval()
    folder = module.save_pretrained(tmp_path / "folder", meta={"license": "mit", "labels": ["a", "b", "c"]})
    hub_server.publish("someone/tiny-cgan", {p.name: p.read_bytes() for p in folder.iterdir()})
    again = ARCHITECTURES["conditional_dcgan"].from_pretrained("someone/tiny-cgan")
    for key, value in module.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    with pytest.raises(CheckpointError, match="holds a 'conditional_dcgan' model, not 'dcgan'"):
        ARCHITECTURES["dcgan"].from_pretrained("someone/tiny-cgan")


def test_push_to_hub_says_why_it_cannot_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    from gan_studio.errors import HubError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    module = build_architecture("dcgan", SMALL["dcgan"])
    with pytest.raises(HubError, match="cannot upload to 'someone/tiny-dcgan': the Hub is switched off"):
        module.push_to_hub("someone/tiny-dcgan", token="not-a-real-token")
