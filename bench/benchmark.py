"""GAN Studio benchmark: studio overhead and optimisations against plain PyTorch, in one run, as ratios.

    python bench/benchmark.py [--quick] [--device cpu|cuda] [--repeats N] [--no-app] [--no-variants]
                              [--compile] [--only NAME ...] [--out bench/results/latest.json]

For every built-in GAN architecture at its native size (DCGAN 64 at batch 1/16/64, conditional
DCGAN 32, CycleGAN ResNet-9 at 256 and 512, pix2pix U-Net 256, StarGAN 128, the colorization U-Net,
the HugGAN U-Net and ResNet, AnimeGANv2 512, BigGAN-deep 128) it measures, with medians over
repeats after a warm-up, the variants of one case timed in turns so they see the same machine state:

* ``reference``: the same network built from the published layout (tests/reference_*.py, no
  gan_studio code; for the two embedded-only architectures, the embedded module run eagerly),
  plain eager fp32 forward on a random input: what the reference code runs;
* ``pipeline``: the studio's pipeline on the same weights in fp32, end to end: pre-processing,
  forward, post-processing to PIL and PNG encoding with provenance (the studio's overhead);
* ``default``: the same pipeline as shipped, with the automatic runtime (gan_studio.runtime: bf16
  autocast on CPUs with bf16 instructions, channels-last where it measured faster);
* ``app``: the same call through the launched Gradio app on 127.0.0.1, with ``gradio_client`` and
  with Gradio's REST API (upload, call, event stream, output downloads), next to both clients'
  overhead on a bare echo app;
* FLOPs per call (``torch.utils.flop_counter``) and achieved GFLOP/s, against the machine's GEMM
  throughput measured in the same run (fp32 and bf16; torch.mm and a 1×1 convolution, the better);
* peak RSS per case.

Then the optimisation table (each runtime setting against fp32 on the studio's pipeline, with the
PSNR of its images against fp32's; ``--compile`` adds torch.compile), cold start (``python app.py``
to the first served page, ``--help``, the first request to a model not loaded yet), model load time
from a local safetensors file, and images/s with 8 concurrent clients against one at a time.
Timings are never asserted here or in the tests: this script prints figures and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402
from PIL import Image  # noqa: E402


# ---- measuring ------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (``VmHWM``: peak resident set, ``VmRSS``: current) in MB."""
    for line in open("/proc/self/status"):
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def flops_of(fn: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_gflops(dtype: torch.dtype, device: str, *, n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """The machine's dense throughput in GFLOP/s, measured two ways: an n×n×n ``torch.mm``
    (MKL/cuBLAS) and GEMM-shaped convolutions (oneDNN on CPU, the library the generators' convolutions
    run on: 1×1 over 1024 channels at 64×64 and 3×3 over 256 channels at 64×64). On CPUs where MKL
    takes a slower path (it does on AMD) the convolutions are the faster; ``peak`` is the best."""
    import torch.nn.functional as F

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    c = torch.empty(n, n, device=device, dtype=dtype)
    out = {"mm": 2 * n**3 / median(timed(lambda: torch.mm(a, b, out=c), repeats=repeats, warmup=2)) / 1e9}
    for name, channels, k in (("conv1x1", 1024, 1), ("conv3x3", 256, 3)):
        x = torch.randn(1, channels, 64, 64, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(channels, channels, k, k, device=device, dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        with torch.inference_mode():
            seconds = median(timed(lambda: F.conv2d(x, w, padding=k // 2), repeats=repeats, warmup=2))
        out[name] = 2 * channels * channels * k * k * 64 * 64 / seconds / 1e9
    out["peak"] = max(out.values())
    return out


def timed_interleaved(fns: dict[str, Callable[[], Any]], *, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each function, run in turns (a, b, c, a, b, c, …) so that each sees the same
    machine state (allocator, caches, clock); comparisons made this way are like for like."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name] += timed(fn, repeats=1, warmup=0)
    return {name: median(xs) for name, xs in times.items()}


@dataclass
class CaseResult:
    name: str
    batch: int
    size: int
    reference_s: float
    pipeline_s: float | None = None
    app_s: float | None = None
    flops: int = 0
    peak_rss_mb: float | None = None
    app_http_s: float | None = None  # the app through Gradio's REST API (what a browser costs)
    default_s: float | None = None  # the pipeline with the studio's automatic runtime (bf16 etc.)
    default_precision: str | None = None
    notes: list[str] = field(default_factory=list)

    def over_reference(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.reference_s

    pipeline_ratio = property(lambda self: self.over_reference(self.pipeline_s))
    app_ratio = property(lambda self: self.over_reference(self.app_s))
    app_http_ratio = property(lambda self: self.over_reference(self.app_http_s))
    default_ratio = property(lambda self: self.over_reference(self.default_s))

    def gflops(self) -> float:
        return self.flops / self.reference_s / 1e9


# ---- cases ----------------------------------------------------------------------------------------
def _seeded_image(size: int) -> Image.Image:
    gen = torch.Generator().manual_seed(size)
    return Image.fromarray((torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy(), "RGB")


def _photo(size: int) -> Image.Image:
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


def build_cases(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    """Every built-in GAN architecture at its native size: the reference module (the published layout
    from tests/reference_*.py, no gan_studio code; for the two architectures with no published
    checkpoint, the embedded model's module run eagerly) and the same weights as a studio folder."""
    import reference_layouts as ref

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
    if quick:
        return cases
    # colorization U-Net: the embedded photo-colorizer, 256 px
    color, folder = _embedded("photo-colorizer")
    add("colorizer_unet256", "colorize", color, folder, lambda: torch.rand(1, 1, 256, 256) * 2 - 1, size=256,
        reference="embedded module, eager")
    # HugGAN sprint generators (huggan/pix2pix-*, huggan/sim2real_cyclegan), 256 px
    from reference_huggan import RefHugGANResNet, RefHugGANUNet

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
    from reference_animegan import RefAnimeGANv2Generator

    anime = ref.randomize(RefAnimeGANv2Generator(), seed=7).eval()
    folder = _studio_folder(anime, tmp / "animegan", "animegan2", {"align_corners": True},
                            {"task": "translation", "image_size": 512, "channels": 3})
    add("animegan2_512", "translate", anime, folder, lambda: torch.rand(1, 3, 512, 512) * 2 - 1, size=512)
    # BigGAN-deep 128 (pytorch-pretrained-BigGAN layout, the published config), batch 1, truncation 0.5
    from reference_biggan import RefBigGAN, RefBigGANConfig, randomize_biggan

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
    return cases


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
    image = _photo(case["size"])
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


def reset_peak_rss() -> None:
    try:  # Linux: "5" resets the peak resident set size (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def run_case(case: dict[str, Any], studio: Any, default: Any, repeats: int, client: Any | None,
             http: HttpApp | None = None) -> CaseResult:
    """Reference, studio pipeline (fp32, like for like) and studio as shipped (automatic runtime),
    timed in turns; then the app round trip."""
    module = case["module"]
    inputs = case["make_input"]()
    args = inputs if isinstance(inputs, tuple) else (inputs,)

    def reference() -> Any:
        with torch.no_grad():
            return module(*args)

    result = CaseResult(case["name"], case["batch"], case["size"], reference_s=0.0)
    result.notes.append(f"reference: {case['reference']}")
    result.flops = flops_of(reference)
    pipeline = pipeline_call(case, studio)
    shipped = pipeline_call(case, default)
    reset_peak_rss()
    times = timed_interleaved({"reference": reference, "pipeline": pipeline, "default": shipped}, repeats=repeats)
    result.peak_rss_mb = peak_rss_mb()
    result.reference_s, result.pipeline_s, result.default_s = times["reference"], times["pipeline"], times["default"]
    result.default_precision = default.load(str(case["folder"])).precision
    if client is not None:
        app = app_call_time(client, http, case, repeats)
        result.app_s, result.app_http_s = app.get("app"), app.get("app_http")
    return result


# ---- optimisations: each runtime setting against fp32, on the studio's own pipeline ------------------
VARIANTS: dict[str, dict[str, Any]] = {
    "fp32": {"precision": "fp32", "channels_last": "off"},  # before: plain fp32, contiguous
    "fp32+cl": {"precision": "fp32", "channels_last": "on"},
    "bf16": {"precision": "bf16", "channels_last": "off"},
    "bf16+cl": {"precision": "bf16", "channels_last": "on"},
    "auto": {},  # after: what the studio does by default
    "auto, 1 thread": {"threads": 1},
}


def psnr(a: Image.Image, b: Image.Image) -> float:
    import numpy as np

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def run_variants(case: dict[str, Any], device: str, repeats: int, compile_too: bool) -> dict[str, Any]:
    """Seconds (timed in turns) and PSNR against the fp32 output for each runtime variant of the case's
    pipeline; the first call of each (load, and with compile the compilation) is reported apart."""
    from gan_studio.studio import Studio

    variants = dict(VARIANTS)
    if compile_too:
        variants["auto+compile"] = {"compile": True}
    threads = torch.get_num_threads()
    calls: dict[str, Callable[[], Any]] = {}
    out: dict[str, Any] = {}
    baseline: list[Image.Image] | None = None
    for name, settings in variants.items():
        studio = Studio(device=device, batching=False, **settings)
        call = pipeline_call(case, studio)
        t0 = time.perf_counter()
        images = call()  # loads (and with compile, compiles) the model
        first_s = time.perf_counter() - t0
        loaded = studio.load(str(case["folder"]))
        torch.set_num_threads(threads)
        if baseline is None:
            baseline = images
        wanted = settings.get("threads")

        def run(call: Callable[[], Any] = call, wanted: int | None = wanted) -> Any:
            if wanted:
                torch.set_num_threads(wanted)
            try:
                return call()
            finally:
                torch.set_num_threads(threads)

        calls[name] = run
        out[name] = {"first_call_s": first_s, "psnr_vs_fp32_db": min(psnr(a, b) for a, b in zip(images, baseline)),
                     "precision": loaded.precision, "channels_last": loaded.channels_last, "settings": settings}
    for name, seconds in timed_interleaved(calls, repeats=repeats, warmup=0).items():
        out[name]["seconds"] = seconds
    base = out["fp32"]["seconds"]
    for v in out.values():
        v["speedup"] = base / v["seconds"]
    return out


def format_variants(name: str, variants: dict[str, Any]) -> str:
    cells = []
    for v_name, v in variants.items():
        q = "exact" if v["psnr_vs_fp32_db"] == float("inf") else f"{v['psnr_vs_fp32_db']:.1f} dB"
        cells.append(f"{v_name} {v['seconds'] * 1000:.1f} ms {v['speedup']:.2f}x ({q})")
    return f"{name:26s} " + " | ".join(cells)


# ---- the app ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_models_toml(tmp: Path, cases: list[dict[str, Any]]) -> Path:
    lines = []
    seen = set()
    for case in cases:
        folder = case["folder"]
        if folder in seen:
            continue
        seen.add(folder)
        lines += ["[[model]]", f'id = "bench-{folder.name}"', f'path = "{folder}"', ""]
    path = tmp / "bench_models.toml"
    path.write_text("\n".join(lines))
    return path


class HttpApp:
    """The launched app through Gradio's documented REST API (``/gradio_api/upload``,
    ``/gradio_api/call/<api_name>`` and its event stream, then the output files), with one
    keep-alive ``httpx`` client and one session, as a browser tab has: what a browser's request
    costs (a call without a session makes Gradio set up a new session state each time).
    ``gradio_client`` adds its own polling (every 50 ms), measured apart on a bare echo app."""

    def __init__(self, url: str) -> None:
        import uuid

        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=120)
        self.session_hash = uuid.uuid4().hex[:11]

    def upload(self, path: Path) -> dict[str, Any]:
        with open(path, "rb") as f:
            response = self.http.post(f"{self.url}/gradio_api/upload", files={"files": f})
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list[Any], *, download: bool = True) -> Any:
        response = self.http.post(f"{self.url}/gradio_api/call/{api_name}",
                                  json={"data": data, "session_hash": self.session_hash})
        response.raise_for_status()
        event_id = response.json()["event_id"]
        event = out = None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{api_name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: ") and event in ("complete", "error"):
                    out = json.loads(line[len("data: "):])
                    if event == "error":
                        raise RuntimeError(f"{api_name} failed: {out}")
                    break
        if download:
            for url in sorted(set(self._urls(out))):
                self.http.get(url).raise_for_status()
        return out

    @classmethod
    def _urls(cls, obj: Any) -> Iterator[str]:
        if isinstance(obj, dict):
            if obj.get("url"):
                yield obj["url"]
            else:
                for value in obj.values():
                    yield from cls._urls(value)
        elif isinstance(obj, list):
            for value in obj:
                yield from cls._urls(value)


def _app_inputs(case: dict[str, Any]) -> Path:
    inputs = Path(tempfile.gettempdir()) / "gan_studio_bench"
    inputs.mkdir(exist_ok=True)
    kind = "grey" if case["kind"] == "colorize" else "photo"
    path = inputs / f"{kind}_{case['size']}.png"
    if not path.exists():
        photo = _photo(case["size"])
        (photo.convert("L") if kind == "grey" else photo).save(path)
    return path


def app_call_time(client: Any, http: HttpApp | None, case: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median seconds of one call through the launched app: with gradio_client (``app``) and with
    the REST API (``app_http``), uploads and output downloads included, timed in turns."""
    from gradio_client import handle_file

    model_id = f"bench-{case['folder'].name}"
    calls: dict[str, Callable[[], Any]] = {}
    if case["kind"] == "generate":
        args = [model_id, 0, case["batch"], case.get("label"), case.get("truncation") or 0]
        calls["app"] = lambda: client.predict(*args, api_name="/generate")
        if http is not None:
            calls["app_http"] = lambda: http.call("generate", args)
    else:
        path = _app_inputs(case)
        if case["kind"] == "colorize":
            calls["app"] = lambda: client.predict(handle_file(str(path)), model_id, case["size"], api_name="/colorize")
            if http is not None:
                calls["app_http"] = lambda: http.call("colorize", [http.upload(path), model_id, case["size"]])
        else:  # translation, or StarGAN's attributes (the bench model has no exclusive groups)
            attributes = ["Blond_Hair", "Male"] if case["kind"] == "multidomain" else []
            calls["app"] = lambda: client.predict(image=handle_file(str(path)), model=model_id,
                                                  attributes=attributes, working_size=case["size"],
                                                  full_resolution=False, api_name="/translate")
            if http is not None:
                calls["app_http"] = lambda: http.call(
                    "translate", [http.upload(path), model_id, None, attributes, None, None, None, 0, case["size"],
                                  False])
    try:
        return timed_interleaved(calls, repeats=repeats)
    except Exception as exc:  # noqa: BLE001 - the app's API may differ; report, don't crash the run
        print(f"  app call for {case['name']} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return {}


def tiling(case: dict[str, Any], device: str) -> list[dict[str, Any]]:
    """Full-resolution (tiled, 512 px tiles, 64 px overlap) translation with the studio as shipped at
    growing photo sizes: seconds per megapixel should stay flat and peak memory bounded; one
    untiled pass at the middle size for comparison."""
    from gan_studio.studio import Studio

    from gan_studio.memory import release_memory as _release_memory

    studio = Studio(device=device)
    model_id = str(case["folder"])
    studio.translate(model_id, _photo(256), working_size=256)  # loaded before measuring memory
    rows = []
    for side, tiled in ((1024, False), (1024, True), (2048, True), (3072, True)):
        image = _photo(512).resize((side, side), Image.Resampling.BICUBIC)
        _release_memory()  # what earlier sizes left in malloc's free lists is not counted as this one's
        reset_peak_rss()
        before = _status_mb("VmRSS")
        t0 = time.perf_counter()
        if tiled:
            studio.translate(model_id, image, full_resolution=True)
        else:
            studio.translate(model_id, image, working_size=side)
        seconds = time.perf_counter() - t0
        rows.append({"side": side, "tiled": tiled, "seconds": seconds, "s_per_megapixel": seconds / (side * side / 1e6),
                     "peak_rss_increase_mb": peak_rss_mb() - before})
        print(f"  {side}x{side} {'tiled  ' if tiled else 'one pass'}: {seconds:6.1f} s, "
              f"{rows[-1]['s_per_megapixel']:.2f} s/MP, peak RSS +{rows[-1]['peak_rss_increase_mb']:.0f} MB", flush=True)
    return rows


def client_floor(repeats: int) -> dict[str, float]:
    """Seconds per call of a bare Gradio app that echoes a string: the clients' own overhead."""
    import gradio as gr
    from gradio_client import Client

    with gr.Blocks() as echo_app:
        box, out, button = gr.Textbox(), gr.Textbox(), gr.Button()
        button.click(lambda x: x, box, out, api_name="echo")
    echo_app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client, http = Client(echo_app.local_url, verbose=False), HttpApp(echo_app.local_url)
        return timed_interleaved({"gradio_client": lambda: client.predict("hi", api_name="/echo"),
                                  "http": lambda: http.call("echo", ["hi"])}, repeats=repeats)
    finally:
        echo_app.close()


def cold_start(timeout: float = 60.0) -> dict[str, float]:
    """Seconds from `python app.py` to the first served page, for `--help`, and for the first
    request to an embedded model not loaded yet (digits-dcgan) against a request once it is loaded."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, env=env, capture_output=True, check=True)
    help_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gan_studio", "--help"], cwd=ROOT, env=env, capture_output=True, check=True)
    cli_help_s = time.perf_counter() - t0
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--device", "cpu"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_page = float("nan")
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        first_page = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.05)
        first_request = warm_request = float("nan")
        if first_page == first_page:  # served: the first request loads the model, the second finds it loaded
            from gradio_client import Client

            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            t1 = time.perf_counter()
            client.predict("digits-dcgan", 0, 1, None, 0, api_name="/generate")
            first_request = time.perf_counter() - t1
            warm_request = median(timed(lambda: client.predict("digits-dcgan", 1, 1, None, 0, api_name="/generate"),
                                        repeats=3, warmup=0))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return {"app_help_s": help_s, "cli_help_s": cli_help_s, "app_first_page_s": first_page,
            "first_request_unloaded_model_s": first_request, "request_loaded_model_s": warm_request}


def load_time(folder: Path, repeats: int) -> float:
    from gan_studio.models import build_generator
    from gan_studio.registry import spec_from_folder

    spec = spec_from_folder(folder)
    return median(timed(lambda: build_generator(spec), repeats=repeats, warmup=1))


def concurrency(url: str, model_id: str, *, clients: int, requests: int) -> dict[str, Any]:
    """Images/second for one-image generate requests to one model: ``clients`` concurrent clients
    against one client in sequence, through the REST API and through gradio_client."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    def through_http(c: HttpApp, i: int) -> Any:
        return c.call("generate", [model_id, i, 1, None, 0])

    def through_client(c: Any, i: int) -> Any:
        return c.predict(model_id, i, 1, None, 0, api_name="/generate")

    out: dict[str, Any] = {}
    for name, factory, call in (("http", lambda: HttpApp(url), through_http),
                                ("gradio_client", lambda: Client(url, verbose=False), through_client)):
        one = factory()
        call(one, 0)  # warm
        t0 = time.perf_counter()
        for i in range(clients * requests):
            call(one, i)
        sequential = clients * requests / (time.perf_counter() - t0)
        pool = [factory() for _ in range(clients)]

        def work(k: int, pool: list[Any] = pool, call: Callable[[Any, int], Any] = call) -> None:
            for i in range(requests):
                call(pool[k], k * requests + i)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(work, range(clients)))
        parallel = clients * requests / (time.perf_counter() - t0)
        out[name] = {"sequential_img_s": sequential, "concurrent_img_s": parallel, "speedup": parallel / sequential}
    return out


# ---- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 5, quick 3)")
    parser.add_argument("--no-app", action="store_true", help="skip the launched-app measurements")
    parser.add_argument("--only", nargs="*", help="only cases whose name starts with one of these")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the optimisation table (each runtime setting against fp32)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile to the optimisation table (slow)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"), help="JSON result file")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    torch.manual_seed(0)

    from gan_studio.studio import Studio

    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "device": args.device,
                    "cpu_count": os.cpu_count()},
        "matmul_gflops": {"fp32": matmul_gflops(torch.float32, args.device),
                          "bf16": matmul_gflops(torch.bfloat16, args.device)},
    }
    for kind, m in report["matmul_gflops"].items():
        print(f"dense throughput {kind}: torch.mm {m['mm']:.0f} GFLOP/s, 1x1 convolution {m['conv1x1']:.0f}, "
              f"3x3 convolution {m['conv3x3']:.0f} -> peak {m['peak']:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cases = build_cases(tmp, args.quick)
        if args.only:
            cases = [c for c in cases if any(c["name"].startswith(o) for o in args.only)]
        studio = Studio(device=args.device, precision="fp32", channels_last="off")  # the overhead, like for like
        default = Studio(device=args.device)  # as shipped: the automatic runtime choices
        client = demo = http = None
        if not args.no_app:
            client, demo = launch_app(tmp, cases, args.device)
            http = HttpApp(demo.local_url)
            report["client_floor_s"] = client_floor(repeats)
            print("client overhead on a bare echo app:",
                  ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in report["client_floor_s"].items()))
        results = []
        try:
            for case in cases:
                r = run_case(case, studio, default, repeats, client, http)
                results.append(r)
                print(format_row(r, report["matmul_gflops"]), flush=True)
            # a light generator (the server's own work per request dominates) and a heavy one (the forward does)
            light = next((c for c in cases if c["name"] == "dcgan64" and c["batch"] == 1), None)
            heavy = next((c for c in cases if c["name"] == "biggan_deep128"), None)
            if demo is not None and not args.quick:
                report["concurrency"] = {}
                for case in (light, heavy):
                    if case is None:
                        continue
                    print(f"concurrency, {case['name']} (one-image generate requests, 8 clients x 8 against 64 "
                          "in sequence):")
                    report["concurrency"][case["name"]] = batching_modes(demo, f"bench-{case['folder'].name}",
                                                                         requests=8)
        finally:
            if demo is not None:
                demo.close()
        if not args.no_app:  # the app as shipped, on the bar's case
            bar_case = next((c for c in cases if c["name"] == "cyclegan_resnet9_256"), None)
            if bar_case is not None:
                client, demo = launch_app(tmp, [bar_case], args.device, shipped=True)
                try:
                    app = app_call_time(client, HttpApp(demo.local_url), bar_case, repeats)
                finally:
                    demo.close()
                ref = next(r.reference_s for r in results if r.name == bar_case["name"])
                report["app_as_shipped"] = {bar_case["name"]: {**app, "reference_s": ref,
                                                               **{f"{k}_ratio": v / ref for k, v in app.items()}}}
                print("app as shipped:", json.dumps(report["app_as_shipped"]))
        report["cases"] = [dict(asdict(r), pipeline_ratio=r.pipeline_ratio, app_ratio=r.app_ratio,
                                app_http_ratio=r.app_http_ratio, default_ratio=r.default_ratio,
                                gflops=r.gflops()) for r in results]
        if not args.no_variants:
            print("optimisations (the studio's pipeline; speed-up and PSNR against fp32):")
            report["variants"] = {}
            for case in cases:
                key = f"{case['name']}_b{case['batch']}"
                report["variants"][key] = run_variants(case, args.device, repeats, args.compile)
                print(format_variants(key, report["variants"][key]), flush=True)
        report["load_time_s"] = {c["name"]: load_time(c["folder"], 3) for c in cases if c["batch"] == 1}
        print("model load time from a local safetensors file (s):",
              ", ".join(f"{k} {v:.3f}" for k, v in report["load_time_s"].items()))
        cyclegan = next((c for c in cases if c["name"].startswith("cyclegan_resnet9")), None)
        if cyclegan is not None and not args.quick:
            print("tiled full-resolution translation, CycleGAN ResNet-9 (studio as shipped):")
            report["tiling"] = tiling(cyclegan, args.device)
    if not args.no_app:
        report["cold_start"] = cold_start()
        print("cold start:", json.dumps(report["cold_start"]))
    report["peak_rss_mb"] = peak_rss_mb()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


def launch_app(tmp: Path, cases: list[dict[str, Any]], device: str, *, shipped: bool = False) -> tuple[Any, Any]:
    """The studio's Gradio app over the cases' models on 127.0.0.1: in fp32 like the reference, or
    ``shipped`` with the automatic runtime."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo

    runtime = {} if shipped else {"precision": "fp32", "channels_last": "off"}
    studio = Studio(models_file=str(write_models_toml(tmp, cases)), device=device, **runtime)
    demo = build_demo(studio)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.gan_studio = studio  # for the batching comparison
    return Client(demo.local_url, verbose=False), demo


def batching_modes(demo: Any, model_id: str, *, requests: int = 4) -> dict[str, Any]:
    """Concurrency with micro-batching off, with the previous design (every leader waited 4 ms for
    company), with no wait (requests queued during a pass form the next one) and as now (no wait for
    a lone user, 4 ms once the previous pass was shared)."""
    studio = demo.gan_studio
    out: dict[str, Any] = {}
    for mode, batching, window, load_window in (("off", False, 0.0, 0.0),
                                                ("4 ms window always (before)", True, 0.004, 0.0),
                                                ("no wait", True, 0.0, 0.0),
                                                ("4 ms window under load (now)", True, 0.0, 0.004)):
        studio.batching = batching
        loaded = studio.load(model_id)
        if not batching:
            loaded.batcher = None
        else:
            loaded.batcher.window_s, loaded.batcher.load_window_s = window, load_window
            passes_before, calls_before = loaded.batcher.calls, loaded.batcher.requests
        out[mode] = concurrency(demo.local_url, model_id, clients=8, requests=requests)
        if batching:
            out[mode]["forward_passes"] = loaded.batcher.calls - passes_before
            out[mode]["model_calls"] = loaded.batcher.requests - calls_before
        print(f"  batching {mode}: {json.dumps(out[mode])}", flush=True)
    studio.batching = True
    return out


def format_row(r: CaseResult, peaks: dict[str, dict[str, float]]) -> str:
    app = (f"app {r.app_s * 1000:6.0f} ms ({r.app_ratio:.2f}x) http {r.app_http_s * 1000:6.0f} ms "
           f"({r.app_http_ratio:.2f}x)" if r.app_s and r.app_http_s else f"app {'n/a':>35s}")
    shipped = peaks.get(r.default_precision or "fp32", peaks["fp32"])["peak"]
    return (f"{r.name:26s} b={r.batch:<3d} ref {r.reference_s * 1000:7.1f} ms  "
            f"pipeline {r.pipeline_s * 1000:7.1f} ms ({r.pipeline_ratio:.2f}x)  {app}  "
            f"default[{r.default_precision}] {r.default_s * 1000:7.1f} ms ({r.default_ratio:.2f}x)  "
            f"{r.flops / 1e9:7.2f} GFLOP: ref {r.gflops():4.0f} GFLOP/s = {100 * r.gflops() / peaks['fp32']['peak']:3.0f}%"
            f" of fp32 peak, default {r.flops / r.default_s / 1e9:4.0f} GFLOP/s = "
            f"{100 * r.flops / r.default_s / 1e9 / shipped:3.0f}% of {r.default_precision} peak  "
            f"peak RSS {r.peak_rss_mb or float('nan'):.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
