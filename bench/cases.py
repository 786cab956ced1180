"""The model cases: every built-in GAN architecture at its native size, its reference module (the
published layout from ``tests/reference_*.py``) and the same weights as a studio model folder, and
how the studio's pipeline runs each case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from . import ROOT


def _seeded_image(size: int) -> Image.Image:
    gen = torch.Generator().manual_seed(size)
    return Image.fromarray((torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy(), "RGB")


def input_photo(size: int) -> Image.Image:
    """A real photo (scikit-image's astronaut, bundled) at ``size``², else a seeded noise image."""
    try:
        from skimage import data

        return Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.BICUBIC)
    except Exception:  # noqa: BLE001 - scikit-image is a test dependency, the benchmark also runs without it
        return _seeded_image(size)


def _studio_folder(reference: torch.nn.Module, folder: Path, architecture: str, kwargs: dict, meta: dict) -> Path:
    """The reference's weights as a studio model folder (converted to the studio layout, loaded strictly)."""
    from gan_studio.convert import build_and_load
    from gan_studio.weights import save_model_folder

    module = build_and_load(reference.state_dict(), architecture, kwargs, source="benchmark")
    return save_model_folder(module, folder, architecture=architecture, kwargs=kwargs, meta=meta)


def _embedded(name: str) -> tuple[torch.nn.Module, Path]:
    """An embedded default model (checkpoints/NAME) and its folder; the 'reference' is its module run eagerly."""
    from gan_studio.models import build_generator
    from gan_studio.registry import spec_from_folder

    folder = ROOT / "checkpoints" / name
    module, *_ = build_generator(spec_from_folder(folder))
    return module.eval(), folder


def build_cases(tmp: Path, quick: bool, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Every built-in GAN architecture at its native size: the reference module (the published layout
    from tests/reference_*.py, no gan_studio code; for the two architectures with no published
    checkpoint, the embedded model's module run eagerly) and the same weights as a studio folder.

    The StyleGAN cases (seconds per image on a CPU) are built in a full run, or, with or without
    ``quick``, when ``only`` names them (names are matched by prefix, as ``--only`` does)."""
    from tests import reference_layouts as ref

    cases: list[dict[str, Any]] = []

    def add(name: str, kind: str, module: torch.nn.Module, folder: Path, make_input: Callable[[], Any], *,
            batch: int = 1, size: int, reference: str = "published layout", **extra: Any) -> None:
        cases.append(dict(name=name, kind=kind, batch=batch, size=size, module=module, folder=folder,
                          make_input=make_input, reference=reference, **extra))

    # DCGAN (PyTorch tutorial layout), 64 px, batch 1/16/64
    dcgan = ref.randomize(ref.TutorialDCGAN(nz=100, ngf=64, nc=3), seed=1).eval()
    folder = _studio_folder(dcgan, tmp / "dcgan", "dcgan", {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64},
                            {"task": "unconditional", "image_size": 64, "channels": 3})
    for batch in ((1, 16) if quick else (1, 16, 64)):
        add("dcgan64", "generate", dcgan, folder, lambda b=batch: torch.randn(b, 100, 1, 1), batch=batch, size=64)
    # conditional DCGAN: the embedded digits-cgan, 32 px, batch 16
    cgan, folder = _embedded("digits-cgan")
    add("cgan32_digits", "generate", cgan, folder,
        lambda: (torch.randn(16, 64), torch.arange(16) % 10), batch=16, size=32, reference="embedded module, eager",
        label="3")
    # CycleGAN ResNet-9 (junyanz layout), 256 and 512
    resnet = ref.randomize(ref.RefResnetGenerator(3, 3, ngf=64, norm_layer=ref.reference_norm_layer("instance"),
                                                  n_blocks=9), seed=2).eval()
    folder = _studio_folder(resnet, tmp / "cyclegan", "cyclegan_resnet", {"ngf": 64, "n_blocks": 9},
                            {"task": "translation", "image_size": 256, "channels": 3})
    for size in ((256,) if quick else (256, 512)):
        add(f"cyclegan_resnet9_{size}", "translate", resnet, folder,
            lambda s=size: torch.rand(1, 3, s, s) * 2 - 1, size=size)
    # pix2pix U-Net 256 (junyanz layout; its test.py runs with batch statistics and dropout on)
    unet = ref.randomize(ref.RefUnetGenerator(3, 3, 8, ngf=64, norm_layer=ref.reference_norm_layer("batch"),
                                              use_dropout=True), seed=3).train()
    folder = _studio_folder(unet, tmp / "pix2pix", "pix2pix_unet", {"num_downs": 8, "ngf": 64},
                            {"task": "translation", "image_size": 256, "channels": 3})
    add("pix2pix_unet256", "translate", unet, folder, lambda: torch.rand(1, 3, 256, 256) * 2 - 1, size=256)
    # StarGAN 128 (yunjey layout; its test() runs G in training mode)
    star = ref.randomize(ref.RefStarGANGenerator(conv_dim=64, c_dim=5, repeat_num=6), seed=4).train()
    folder = _studio_folder(star, tmp / "stargan", "stargan", {"conv_dim": 64, "c_dim": 5, "repeat_num": 6},
                            {"task": "multidomain", "image_size": 128, "channels": 3,
                             "labels": ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]})
    add("stargan128", "multidomain", star, folder,
        lambda: (torch.rand(1, 3, 128, 128) * 2 - 1, torch.tensor([[0., 1, 0, 1, 0]])), size=128)
    def selected(name: str) -> bool:
        return only is None or any(name.startswith(o) for o in only)

    if quick:
        if only is not None:
            _stylegan_cases(tmp, selected, add)
        return cases
    # colorization U-Net: the embedded photo-colorizer, 256 px
    color, folder = _embedded("photo-colorizer")
    add("colorizer_unet256", "colorize", color, folder, lambda: torch.rand(1, 1, 256, 256) * 2 - 1, size=256,
        reference="embedded module, eager")
    # HugGAN sprint generators (huggan/pix2pix-*, huggan/sim2real_cyclegan), 256 px
    from tests.reference_huggan import RefHugGANResNet, RefHugGANUNet

    hunet = ref.randomize(RefHugGANUNet(3, 3), seed=5).eval()
    folder = _studio_folder(hunet, tmp / "huggan_unet", "huggan_pix2pix_unet", {},
                            {"task": "translation", "image_size": 256, "channels": 3})
    add("huggan_pix2pix_unet256", "translate", hunet, folder, lambda: torch.rand(1, 3, 256, 256) * 2 - 1, size=256)
    hres = ref.randomize(RefHugGANResNet((3, 256, 256), 9), seed=6).eval()
    kwargs = {"channels": 3, "num_residual_blocks": 9, "ngf": 64}
    folder = _studio_folder(hres, tmp / "huggan_resnet", "huggan_cyclegan_resnet", kwargs,
                            {"task": "translation", "image_size": 256, "channels": 3})
    add("huggan_cyclegan_resnet256", "translate", hres, folder, lambda: torch.rand(1, 3, 256, 256) * 2 - 1,
        size=256)
    # AnimeGANv2 (bryandlee port), 512 px
    from tests.reference_animegan import RefAnimeGANv2Generator

    anime = ref.randomize(RefAnimeGANv2Generator(), seed=7).eval()
    folder = _studio_folder(anime, tmp / "animegan", "animegan2", {"align_corners": True},
                            {"task": "translation", "image_size": 512, "channels": 3})
    add("animegan2_512", "translate", anime, folder, lambda: torch.rand(1, 3, 512, 512) * 2 - 1, size=512)
    # BigGAN-deep 128 (pytorch-pretrained-BigGAN layout, the published config), batch 1, truncation 0.5
    from tests.reference_biggan import RefBigGAN, RefBigGANConfig, randomize_biggan

    config = {"attention_layer_position": 8, "channel_width": 128, "class_embed_dim": 128, "eps": 0.0001,
              "layers": [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8],
                         [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
              "n_stats": 51, "num_classes": 1000, "output_dim": 128, "z_dim": 128}
    big = randomize_biggan(RefBigGAN(RefBigGANConfig(**config)), seed=8).eval()
    folder = _studio_folder(big, tmp / "biggan", "biggan_deep", config,
                            {"task": "conditional", "image_size": 128, "channels": 3,
                             "labels": [str(i) for i in range(1000)]})
    add("biggan_deep128", "generate", big, folder,
        lambda: (torch.randn(1, 128).clamp(-2, 2) * 0.5, torch.nn.functional.one_hot(torch.tensor([1]), 1000).float(),
                 0.5), size=128, label="1", truncation=0.5)
    _stylegan_cases(tmp, selected, add)
    return cases


def _stylegan_cases(tmp: Path, wanted: Callable[[str], bool], add: Callable[..., None]) -> None:
    """StyleGAN2 at 256 and 1024 px and StyleGAN3-T at 256 px (NVIDIA layout, published configs), batch 1.

    Random weights (the constructors' own initialisation, seeded): the timings do not depend on
    the values. No published layout of these networks lives in tests/ (their tests hold numbers
    derived by running NVIDIA's code), so the reference is gan_studio's module run eagerly in fp32.
    ψ = 1 and noise_mode "const", which is what ``Studio.generate`` runs by default."""
    from gan_studio.architectures import StyleGAN2Generator, StyleGAN3Generator

    configs: list[tuple[str, Callable[[], torch.nn.Module], int, str]] = [
        # stylegan2-ada-pytorch's "paper256" config (fmaps 0.5 -> channel_base 16384), conv_clamp 256
        ("stylegan2_256", lambda: StyleGAN2Generator(
            z_dim=512, w_dim=512, img_resolution=256, img_channels=3, mapping_kwargs={"num_layers": 8},
            synthesis_kwargs={"channel_base": 16384, "channel_max": 512, "conv_clamp": 256}), 256,
         "gan_studio module, eager (ADA paper256 config, random weights)"),
        # FFHQ config-f, as ADA-trained (conv_clamp 256; converted TF nets have none)
        ("stylegan2_1024", lambda: StyleGAN2Generator(
            z_dim=512, w_dim=512, img_resolution=1024, img_channels=3, mapping_kwargs={"num_layers": 8},
            synthesis_kwargs={"channel_base": 32768, "channel_max": 512, "conv_clamp": 256}), 1024,
         "gan_studio module, eager (FFHQ config-f, random weights)"),
        # -T: the constructor's defaults (14 layers, conv_kernel 3, mapping 2 layers, conv_clamp 256)
        ("stylegan3_t_256", lambda: StyleGAN3Generator(
            z_dim=512, w_dim=512, img_resolution=256, img_channels=3, channel_base=32768, channel_max=512,
            num_layers=14, conv_kernel=3), 256, "gan_studio module, eager (-T config, random weights)"),
    ]
    for seed, (name, build, size, reference) in enumerate(configs, start=20):
        if not wanted(name):
            continue
        torch.manual_seed(seed)
        module = build().eval()
        folder = module.save_pretrained(tmp / name, meta={"image_size": size, "channels": 3})
        add(name, "generate", module, folder, lambda: torch.randn(1, 512), size=size, reference=reference,
            variants=("fp32", "bf16"))


def pipeline_call(case: dict[str, Any], studio: Any) -> Callable[[], list[Image.Image]]:
    """The studio's pipeline on the case's work, end to end (PNG encoding included); returns the images."""
    model_id = str(case["folder"])
    if case["kind"] == "generate":
        def call() -> list[Image.Image]:
            results = studio.generate(model_id, seed=0, n=case["batch"], batch_size=case["batch"],
                                      label=case.get("label"), truncation=case.get("truncation"))
            [r.png_bytes() for r in results]
            return [r.image for r in results]
        return call
    image = input_photo(case["size"])
    if case["kind"] == "translate":
        def call() -> list[Image.Image]:
            result = studio.translate(model_id, image, working_size=case["size"])
            result.png_bytes()
            return [result.image]
    elif case["kind"] == "colorize":
        grey = image.convert("L").convert("RGB")

        def call() -> list[Image.Image]:
            result = studio.colorize(model_id, grey, working_size=case["size"])
            result.png_bytes()
            return [result.image]
    else:
        def call() -> list[Image.Image]:
            result = studio.translate_attributes(model_id, image, ["Blond_Hair", "Male"])
            result.png_bytes()
            return [result.image]
    return call
