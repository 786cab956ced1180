"""GAN Studio benchmark: studio overhead against plain PyTorch, in one run, as ratios.

    python bench/benchmark.py [--quick] [--device cpu|cuda] [--out bench/results/latest.json]
                              [--no-app] [--only NAME ...]

For each case it measures, with medians over repeats after a warm-up:

* ``reference``: the same network built from the published layout (tests/reference_layouts.py,
  no gan_studio code), plain eager fp32 forward on a random input: what the reference code runs;
* ``pipeline``: the studio's pipeline on the same weights end to end: pre-processing, forward,
  post-processing to PIL and PNG encoding with provenance;
* ``app``: the same call through the launched Gradio app with gradio_client on 127.0.0.1
  (translation/generation cases; ``--no-app`` skips it);
* FLOPs per call (``torch.utils.flop_counter``) and achieved GFLOP/s, against the machine's matmul
  throughput measured in the same run (fp32 and bf16);
* peak RSS.

Plus cold start (``python app.py`` to first served page; ``--help``), model load time from a local
safetensors file, and throughput with concurrent clients against one-at-a-time.
Timings are never asserted here or in the tests: this script prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
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


def peak_rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def flops_of(fn: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_gflops(dtype: torch.dtype, device: str, *, n: int = 2048, repeats: int = 5) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = timed(lambda: a @ b, repeats=repeats, warmup=2)
    return 2 * n**3 / median(times) / 1e9


@dataclass
class CaseResult:
    name: str
    batch: int
    size: int
    reference_s: float
    pipeline_s: float | None = None
    app_s: float | None = None
    flops: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def pipeline_ratio(self) -> float | None:
        return None if self.pipeline_s is None else self.pipeline_s / self.reference_s

    @property
    def app_ratio(self) -> float | None:
        return None if self.app_s is None else self.app_s / self.reference_s

    def gflops(self) -> float:
        return self.flops / self.reference_s / 1e9


# ---- cases ----------------------------------------------------------------------------------------
def _seeded_image(size: int) -> Image.Image:
    gen = torch.Generator().manual_seed(size)
    return Image.fromarray((torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy(), "RGB")


def _save_folder(module: torch.nn.Module, folder: Path, architecture: str, kwargs: dict, meta: dict) -> Path:
    from gan_studio.weights import save_model_folder

    return save_model_folder(module, folder, architecture=architecture, kwargs=kwargs, meta=meta)


def build_cases(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    """Reference modules (published layouts) and the same weights as studio model folders."""
    import reference_layouts as ref

    cases: list[dict[str, Any]] = []
    dcgan = ref.randomize(ref.TutorialDCGAN(nz=100, ngf=64, nc=3), seed=1).eval()
    folder = _save_folder(dcgan, tmp / "dcgan", "dcgan", {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64},
                          {"task": "unconditional", "image_size": 64, "channels": 3})
    for batch in ((1, 16) if quick else (1, 16, 64)):
        cases.append(dict(name="dcgan64", kind="generate", batch=batch, size=64, module=dcgan, folder=folder,
                          make_input=lambda b=batch: torch.randn(b, 100, 1, 1)))
    resnet = ref.randomize(ref.RefResnetGenerator(3, 3, ngf=64, norm_layer=ref.reference_norm_layer("instance"),
                                                  n_blocks=9), seed=2).eval()
    folder = _save_folder(resnet, tmp / "cyclegan", "cyclegan_resnet", {"ngf": 64, "n_blocks": 9},
                          {"task": "translation", "image_size": 256, "channels": 3})
    for size in ((256,) if quick else (256, 512)):
        cases.append(dict(name=f"cyclegan_resnet9_{size}", kind="translate", batch=1, size=size, module=resnet,
                          folder=folder, make_input=lambda s=size: torch.rand(1, 3, s, s) * 2 - 1))
    unet = ref.randomize(ref.RefUnetGenerator(3, 3, 8, ngf=64, norm_layer=ref.reference_norm_layer("batch"),
                                              use_dropout=True), seed=3)
    unet.train()  # the reference test.py without --eval: batch statistics, dropout on
    folder = _save_folder(unet, tmp / "pix2pix", "pix2pix_unet", {"num_downs": 8, "ngf": 64},
                          {"task": "translation", "image_size": 256, "channels": 3})
    cases.append(dict(name="pix2pix_unet256", kind="translate", batch=1, size=256, module=unet, folder=folder,
                      make_input=lambda: torch.rand(1, 3, 256, 256) * 2 - 1))
    star = ref.randomize(ref.RefStarGANGenerator(conv_dim=64, c_dim=5, repeat_num=6), seed=4)
    star.train()  # the reference test() runs G without eval()
    folder = _save_folder(star, tmp / "stargan", "stargan", {"conv_dim": 64, "c_dim": 5, "repeat_num": 6},
                          {"task": "multidomain", "image_size": 128, "channels": 3,
                           "labels": ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]})
    cases.append(dict(name="stargan128", kind="multidomain", batch=1, size=128, module=star, folder=folder,
                      make_input=lambda: (torch.rand(1, 3, 128, 128) * 2 - 1, torch.tensor([[0., 1, 0, 1, 0]]))))
    return cases


def run_case(case: dict[str, Any], studio: Any, repeats: int, client: Any | None) -> CaseResult:
    module = case["module"]
    inputs = case["make_input"]()
    args = inputs if isinstance(inputs, tuple) else (inputs,)

    def reference() -> Any:
        with torch.no_grad():
            return module(*args)

    result = CaseResult(case["name"], case["batch"], case["size"], reference_s=0.0)
    result.reference_s = median(timed(reference, repeats=repeats))
    result.flops = flops_of(reference)
    model_id = str(case["folder"])
    if case["kind"] == "generate":
        def pipeline() -> Any:
            return [r.png_bytes() for r in studio.generate(model_id, seed=0, n=case["batch"], batch_size=case["batch"])]
    elif case["kind"] == "translate":
        image = _seeded_image(case["size"])

        def pipeline() -> Any:
            return studio.translate(model_id, image, working_size=case["size"]).png_bytes()
    else:
        image = _seeded_image(case["size"])

        def pipeline() -> Any:
            return studio.translate_attributes(model_id, image, ["Blond_Hair", "Male"]).png_bytes()
    result.pipeline_s = median(timed(pipeline, repeats=repeats))
    if client is not None and case["kind"] in ("generate", "translate"):
        result.app_s = app_call_time(client, case, repeats)
    return result


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


def app_call_time(client: Any, case: dict[str, Any], repeats: int) -> float | None:
    """Median seconds of one call through the launched app (api endpoints of gan_studio.ui)."""
    from gradio_client import handle_file

    model_id = f"bench-{case['folder'].name}"
    if case["kind"] == "generate":
        def call() -> Any:
            return client.predict(model_id, 0, case["batch"], None, 0, api_name="/generate")
    else:
        path = case["folder"].parent / f"input_{case['size']}.png"
        if not path.exists():
            _seeded_image(case["size"]).save(path)

        def call() -> Any:
            return client.predict(image=handle_file(str(path)), model=model_id, working_size=case["size"],
                                  full_resolution=False, api_name="/translate")
    try:
        return median(timed(call, repeats=repeats))
    except Exception as exc:  # noqa: BLE001 - the app's API may differ; report, don't crash the run
        print(f"  app call for {case['name']} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def cold_start(timeout: float = 60.0) -> dict[str, float]:
    """Seconds from `python app.py` to the first served page, and for `python app.py --help`."""
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
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return {"app_help_s": help_s, "cli_help_s": cli_help_s, "app_first_page_s": first_page}


def load_time(folder: Path, repeats: int) -> float:
    from gan_studio.models import build_generator
    from gan_studio.registry import spec_from_folder

    spec = spec_from_folder(folder)
    return median(timed(lambda: build_generator(spec), repeats=repeats, warmup=1))


def concurrency(client_factory: Callable[[], Any], model_id: str, *, clients: int, requests: int) -> dict[str, float]:
    """Images/second with `clients` concurrent gradio_client clients vs one client in sequence."""
    from concurrent.futures import ThreadPoolExecutor

    one = client_factory()
    t0 = time.perf_counter()
    for i in range(requests):
        one.predict(model_id, i, 1, None, 0, api_name="/generate")
    sequential = requests / (time.perf_counter() - t0)
    pool = [client_factory() for _ in range(clients)]

    def work(c: Any) -> None:
        for i in range(requests):
            c.predict(model_id, i, 1, None, 0, api_name="/generate")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(work, pool))
    parallel = clients * requests / (time.perf_counter() - t0)
    return {"sequential_img_s": sequential, "concurrent_img_s": parallel, "speedup": parallel / sequential}


# ---- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 5, quick 3)")
    parser.add_argument("--no-app", action="store_true", help="skip the launched-app measurements")
    parser.add_argument("--only", nargs="*", help="only cases whose name starts with one of these")
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
    print(f"matmul: fp32 {report['matmul_gflops']['fp32']:.1f} GFLOP/s, bf16 {report['matmul_gflops']['bf16']:.1f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cases = build_cases(tmp, args.quick)
        if args.only:
            cases = [c for c in cases if any(c["name"].startswith(o) for o in args.only)]
        studio = Studio(device=args.device, half=False)
        client = demo = None
        if not args.no_app:
            client, demo = launch_app(tmp, cases, args.device)
        results = []
        try:
            for case in cases:
                r = run_case(case, studio, repeats, client)
                results.append(r)
                print(format_row(r, report["matmul_gflops"]["fp32"]), flush=True)
            if demo is not None and not args.quick:
                from gradio_client import Client

                report["concurrency"] = concurrency(lambda: Client(demo.local_url, verbose=False),
                                                    f"bench-{cases[0]['folder'].name}", clients=8, requests=4)
                print("concurrency:", json.dumps(report["concurrency"]))
        finally:
            if demo is not None:
                demo.close()
        report["cases"] = [dict(asdict(r), pipeline_ratio=r.pipeline_ratio, app_ratio=r.app_ratio,
                                gflops=r.gflops()) for r in results]
        report["load_time_s"] = {c["name"]: load_time(c["folder"], 3) for c in cases if c["batch"] == 1}
    if not args.no_app:
        report["cold_start"] = cold_start()
        print("cold start:", json.dumps(report["cold_start"]))
    report["peak_rss_mb"] = peak_rss_mb()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


def launch_app(tmp: Path, cases: list[dict[str, Any]], device: str) -> tuple[Any, Any]:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo

    studio = Studio(models_file=str(write_models_toml(tmp, cases)), device=device, half=False)
    demo = build_demo(studio)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    return Client(demo.local_url, verbose=False), demo


def format_row(r: CaseResult, fp32_peak: float) -> str:
    app = f"app {r.app_s * 1000:8.1f} ms ({r.app_ratio:.2f}x)" if r.app_s else "app      n/a"
    return (f"{r.name:22s} b={r.batch:<3d} ref {r.reference_s * 1000:8.1f} ms  "
            f"pipeline {r.pipeline_s * 1000:8.1f} ms ({r.pipeline_ratio:.2f}x)  {app}  "
            f"{r.flops / 1e9:8.2f} GFLOP  {r.gflops():7.1f} GFLOP/s = {100 * r.gflops() / fp32_peak:5.1f}% of matmul")


if __name__ == "__main__":
    raise SystemExit(main())
