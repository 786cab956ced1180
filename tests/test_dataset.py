"""Synthetic datasets (gan_studio/datasets/, ``python -m gan_studio dataset``, the Dataset tab): same
arguments → same bytes in every format, resume after an interruption, the filters, the readers the
formats promise (Hugging Face ``datasets``, torchvision), folder translation, Ray = local, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gan_studio.datasets import DatasetRequest, iter_records, read_manifest, write_dataset
from gan_studio.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]
FORMATS = ("imagefolder", "parquet", "webdataset")


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the SHA-256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def studio(models_toml: str) -> Any:
    import torch

    from gan_studio.studio import Studio

    torch.set_num_threads(1)
    return Studio(models_file=models_toml, device="cpu", batching=False)


def tiny_request(fmt: str = "parquet", **kwargs: Any) -> DatasetRequest:
    args: dict[str, Any] = {"model": "tiny-cgan", "format": fmt, "per_class": 5, "shard_size": 4, "batch_size": 3}
    args.update(kwargs)
    return DatasetRequest(**args)


# ---- determinism ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_arguments_give_the_same_bytes(fmt: str, studio: Any, tmp_path: Path) -> None:
    a = write_dataset(tiny_request(fmt), tmp_path / "a", studio=studio)
    write_dataset(tiny_request(fmt), tmp_path / "b", studio=studio)
    write_dataset(tiny_request(fmt, seed=1), tmp_path / "c", studio=studio)
    files = digest(tmp_path / "a")
    assert a.total == 15 and a.num_shards == 4 and a.label_counts == {"cat": 5, "dog": 5, "owl": 5}
    assert {"README.md", "dataset_info.json", "manifest.json"} <= set(files)
    assert files == digest(tmp_path / "b")
    other = digest(tmp_path / "c")
    data = [k for k in files if k.endswith((".png", ".parquet", ".tar"))]
    assert data and all(files[k] != other.get(k) for k in data)  # another seed: other images


def test_records_carry_label_seed_model_revision_and_provenance(studio: Any, tmp_path: Path) -> None:
    from gan_studio.metadata import read_metadata

    write_dataset(tiny_request("webdataset"), tmp_path / "d", studio=studio)
    records = list(iter_records(tmp_path / "d"))
    assert [r["key"] for r in records] == [f"{i:08d}" for i in range(15)]
    revision = studio.load("tiny-cgan").revision
    for r in records:
        png = read_metadata(r["png"])  # the PNG's own text chunks
        assert png["model"] == r["model"] == "tiny-cgan" and png["revision"] == r["revision"] == revision
        assert png["seed"] == r["seed"] and png["label"] == r["label_name"] and png["ai_generated"] is True
        assert ["cat", "dog", "owl"][r["label"]] == r["label_name"]
        # each record is reproducible with the ordinary generate call
    first = records[0]
    again = studio.generate("tiny-cgan", seed=first["seed"], n=1, label=first["label_name"])[0]
    assert again.png_bytes() != b"" and _pixels(again.image) == _pixels(_image(first["png"]))
    with tarfile.open(tmp_path / "d" / "data" / "train-000000.tar") as tar:
        names = tar.getnames()
        assert names[:3] == ["00000000.png", "00000000.json", "00000000.cls"]
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
    info = json.loads((tmp_path / "d" / "dataset_info.json").read_text())
    assert info["synthetic"] is True and info["ai_generated"] is True
    assert info["generator"] == {"model": "tiny-cgan", "revision": revision, "task": "conditional",
                                 "architecture": "conditional_dcgan", "license": "mit",
                                 "description": "tiny random conditional DCGAN", "training_set": None}
    assert info["num_images"] == 15 and info["label_counts"] == {"cat": 5, "dog": 5, "owl": 5}
    card = (tmp_path / "d" / "README.md").read_text()
    assert card.startswith("---\nlicense: \"mit\"") and "ai-generated" in card and "Synthetic, AI-generated" in card


def _pixels(image: Any) -> bytes:
    return bytes(image.tobytes())


def _image(png: bytes) -> Any:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.copy()


# ---- readers ---------------------------------------------------------------------------------------
def test_parquet_loads_with_hugging_face_datasets(studio: Any, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    write_dataset(tiny_request("parquet"), tmp_path / "p", studio=studio)
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "p" / "data" / "*.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == 15
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.features["label"].names == ["cat", "dog", "owl"]
    row = ds[7]
    assert row["image"].size == (16, 16) and ds.features["label"].int2str(row["label"]) == row["label_name"]
    assert json.loads(row["provenance"])["seed"] == row["seed"]


def test_imagefolder_loads_with_torchvision(studio: Any, tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    write_dataset(tiny_request("imagefolder"), tmp_path / "f", studio=studio)
    folder = ImageFolder(str(tmp_path / "f"))
    assert folder.classes == ["cat", "dog", "owl"] and len(folder) == 15
    assert sorted(folder.targets) == [0] * 5 + [1] * 5 + [2] * 5
    image, target = folder[6]
    assert image.size == (16, 16) and folder.classes[target] == "dog"


# ---- resume ------------------------------------------------------------------------------------------
class Interrupted(Exception):
    pass


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_interrupted_run_resumes_to_the_same_files(fmt: str, studio: Any, tmp_path: Path) -> None:
    request = tiny_request(fmt, min_confidence=None)
    write_dataset(request, tmp_path / "whole", studio=studio)

    def stop_after_two_shards(done: int, total: int) -> None:
        if done >= 9:  # shards of 4: two are written, the third is half full
            raise Interrupted

    with pytest.raises(Interrupted):
        write_dataset(request, tmp_path / "cut", studio=studio, progress=stop_after_two_shards)
    manifest = read_manifest(tmp_path / "cut")
    assert len(manifest["shards"]) == 2 and not manifest["complete"]
    (tmp_path / "cut" / "debris.partial").write_bytes(b"half a shard")  # what a kill mid-write leaves
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "cut").rglob("*") if p.is_file()}
    with pytest.raises(UserInputError, match="not empty; pass --resume"):
        write_dataset(request, tmp_path / "cut", studio=studio)
    seen: list[int] = []
    write_dataset(request, tmp_path / "cut", studio=studio, resume=True, progress=lambda d, t: seen.append(d))
    assert seen[0] == 8  # continued after the two complete shards
    assert digest(tmp_path / "cut") == digest(tmp_path / "whole")
    if fmt != "imagefolder":  # complete shards were not rewritten
        first = next(p for p in written if p.name.startswith("train-0000") and p.name.split("-")[1] in ("00000",
                                                                                                          "000000.tar"))
        assert first.stat().st_mtime_ns == written[first]


@pytest.mark.slow
def test_a_killed_process_resumes_to_the_same_files(tmp_path: Path, models_toml: str) -> None:
    """SIGKILL mid-run (no clean-up at all), then ``--resume``: the files of an uninterrupted run."""
    import time

    args = [sys.executable, "-m", "gan_studio", "dataset", "--models", models_toml, "--model", "tiny-dcgan",
            "--n", "2000", "--shard-size", "20", "--batch-size", "4", "--format", "parquet", "--threads", "1",
            "--device", "cpu"]
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "cut")], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    manifest = tmp_path / "cut" / "manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if manifest.is_file() and len(json.loads(manifest.read_text() or "{}").get("shards", [])) >= 2:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = json.loads(manifest.read_text())
    assert not done["complete"], "the run finished before it could be killed; make it longer"
    subprocess.run([*args, "--out", str(tmp_path / "cut"), "--resume"], cwd=REPO, check=True, capture_output=True)
    subprocess.run([*args, "--out", str(tmp_path / "whole")], cwd=REPO, check=True, capture_output=True)
    assert digest(tmp_path / "cut") == digest(tmp_path / "whole")


def test_resume_refuses_other_arguments(studio: Any, tmp_path: Path) -> None:
    write_dataset(tiny_request("parquet", per_class=1), tmp_path / "r", studio=studio)
    with pytest.raises(UserInputError, match=r"different arguments: per_class=1 \(now 2\)"):
        write_dataset(tiny_request("parquet", per_class=2), tmp_path / "r", studio=studio, resume=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="no manifest.json"):
        write_dataset(tiny_request("parquet"), tmp_path / "other", studio=studio, resume=True)


# ---- filters ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_studio() -> Any:
    import torch

    from gan_studio.studio import Studio

    torch.set_num_threads(1)
    return Studio(device="cpu", batching=False)


def test_min_confidence_keeps_confident_samples_and_records_the_dropped_seeds(digits_studio: Any,
                                                                              tmp_path: Path) -> None:
    from gan_studio.datasets.filters import confidences

    request = DatasetRequest("digits-cgan", per_class=3, labels=("3", "8"), min_confidence=0.975, batch_size=4,
                             shard_size=4, format="webdataset")
    summary = write_dataset(request, tmp_path / "c", studio=digits_studio)
    assert summary.total == 6 and summary.label_counts == {"3": 3, "8": 3}
    assert summary.dropped.get("low_confidence", 0) > 0  # the digits evaluator gives 0.95-0.99: 0.975 drops about half
    records = list(iter_records(tmp_path / "c"))
    assert all(r["confidence"] >= 0.975 for r in records)
    rescored = confidences("digits", [_image(r["png"]) for r in records], [r["label"] for r in records])
    assert rescored == pytest.approx([r["confidence"] for r in records], abs=1e-6)
    manifest = read_manifest(tmp_path / "c")
    dropped = [d for s in manifest["shards"] for d in s["dropped"]]
    assert len(dropped) == summary.dropped["low_confidence"]
    kept_seeds = {r["seed"] for r in records}
    for _j, seed, reason in dropped:  # a dropped seed really scores below the threshold
        assert reason == "low_confidence" and seed not in kept_seeds
    j, seed, _ = dropped[0]
    label = "3" if (j // 4) % 2 == 0 else "8"
    image = digits_studio.generate("digits-cgan", seed=seed, n=1, label=label)[0].image
    assert confidences("digits", [image], [int(label)])[0] < 0.975


def test_dedupe_drops_near_duplicates_of_each_other_and_of_the_training_set(digits_studio: Any,
                                                                            tmp_path: Path) -> None:
    import numpy as np

    from gan_studio.datasets.filters import training_hashes

    request = DatasetRequest("digits-cgan", per_class=4, labels=("1",), dedupe=True, dedupe_bits=14,
                             batch_size=4, shard_size=8, format="parquet")
    summary = write_dataset(request, tmp_path / "u", studio=digits_studio)
    assert summary.total == 4 and sum(summary.dropped.values()) > 0
    records = list(iter_records(tmp_path / "u"))
    kept = np.array([int(r["phash"], 16) for r in records], dtype=np.uint64)
    train = np.array(training_hashes("sklearn-digits"), dtype=np.uint64)
    between = np.bitwise_count(kept[:, None] ^ kept[None, :])
    np.fill_diagonal(between, 64)
    assert between.min() > 14 and np.bitwise_count(kept[:, None] ^ train[None, :]).min() > 14
    assert set(summary.dropped) <= {"near_duplicate", "near_training_image"}
    # the same filtered run again: the same files (filters are deterministic)
    write_dataset(request, tmp_path / "u2", studio=digits_studio)
    assert digest(tmp_path / "u") == digest(tmp_path / "u2")


def test_perceptual_hash_finds_a_re_encoded_copy() -> None:
    from PIL import Image

    from gan_studio.datasets.filters import HashIndex, hamming, perceptual_hash
    from gan_studio.image_io import load_image

    photo, _ = load_image(REPO / "examples" / "chelsea.jpg")
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=80)
    copy = Image.open(io.BytesIO(buf.getvalue()))
    other, _ = load_image(REPO / "examples" / "camera.jpg")
    assert hamming(perceptual_hash(photo), perceptual_hash(copy)) <= 2
    assert hamming(perceptual_hash(photo), perceptual_hash(other)) > 16
    index = HashIndex([perceptual_hash(photo)])
    assert index.near(perceptual_hash(copy), 2) and not index.near(perceptual_hash(other), 2)


def test_filters_need_a_model_that_has_them(studio: Any, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="needs an evaluator for model 'tiny-cgan'"):
        write_dataset(tiny_request(min_confidence=0.5), tmp_path / "x", studio=studio)
    with pytest.raises(UserInputError, match="'tiny-dcgan' is unconditional"):
        write_dataset(DatasetRequest("tiny-dcgan", n=3, min_confidence=0.5), tmp_path / "x", studio=studio)


# ---- folders -----------------------------------------------------------------------------------------
def _photo_tree(root: Path) -> list[str]:
    from PIL import Image

    names = ["a.png", "cats/b.jpg", "cats/kittens/c.png", "dogs/d.webp"]
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (20 + 4 * i, 24), (40 * i, 90, 200 - 30 * i)).save(path)
    (root / "notes.txt").write_text("not an image")
    return names


def test_translating_a_folder_keeps_its_structure_and_file_names(studio: Any, tmp_path: Path) -> None:
    from gan_studio.metadata import read_metadata

    names = _photo_tree(tmp_path / "in")
    request = DatasetRequest("tiny-cyclegan", input_dir=str(tmp_path / "in"), direction="BtoA",
                             format="imagefolder", shard_size=3, batch_size=2)
    summary = write_dataset(request, tmp_path / "out", studio=studio)
    assert summary.total == 4
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == sorted(str(Path(n).with_suffix(".png")) for n in names)
    meta = read_metadata(tmp_path / "out" / "cats" / "kittens" / "c.png")
    assert meta["input"] == "cats/kittens/c.png" and meta["model"] == "tiny-cyclegan" and meta["variant"] == "BtoA"
    direct = studio.translate("tiny-cyclegan", _load(tmp_path / "in" / "cats" / "kittens" / "c.png"),
                              direction="BtoA", seed=meta["seed"])
    assert _pixels(direct.image) == _pixels(_image((tmp_path / "out" / "cats/kittens/c.png").read_bytes()))
    parquet = write_dataset(DatasetRequest("tiny-colorizer", input_dir=str(tmp_path / "in"), format="parquet"),
                            tmp_path / "pq", studio=studio)
    assert parquet.total == 4
    assert [r["source"] for r in iter_records(tmp_path / "pq")] == sorted(names)
    edited = write_dataset(DatasetRequest("tiny-stargan", input_dir=str(tmp_path / "in"), attributes=("red", "big"),
                                          format="webdataset"), tmp_path / "wds", studio=studio)
    records = list(iter_records(tmp_path / "wds"))
    assert edited.total == 4 and [r["source"] for r in records] == sorted(names)
    assert all(r["provenance"]["model"] == "tiny-stargan" and r["label"] is None for r in records)


def _load(path: Path) -> Any:
    from gan_studio.image_io import load_image

    return load_image(path)[0]


def test_input_files_that_would_collide_are_refused(tmp_path: Path) -> None:
    from PIL import Image

    from gan_studio.datasets import list_input_files

    (tmp_path / "in").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "x.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "x.jpg")
    with pytest.raises(UserInputError, match="would both be written as 'x.png'"):
        list_input_files(tmp_path / "in")


# ---- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "no-such-model", "n": 3}, "unknown model 'no-such-model'; choose one of"),
    ({"model": "tiny-dcgan", "n": 0}, r"number of images \(--n\) must be a whole number of at least 1, got 0"),
    ({"model": "tiny-dcgan", "n": -5}, "at least 1, got -5"),
    ({"model": "tiny-dcgan"}, "say how many images"),
    ({"model": "tiny-dcgan", "n": 3, "format": "csv"}, "unknown dataset format 'csv'; choose one of: imagefolder"),
    ({"model": "tiny-dcgan", "per_class": 3}, "'tiny-dcgan' is unconditional; --labels and --per-class"),
    ({"model": "tiny-cgan", "n": 3, "labels": ("cat", "cow")}, "unknown class 'cow' for model 'tiny-cgan'"),
    ({"model": "tiny-cyclegan", "n": 3}, "not a generator; pass --input DIR"),
    ({"model": "tiny-dcgan", "n": 3, "min_confidence": 1.5}, "between 0 and 1, got 1.5"),
    ({"model": "tiny-cgan", "input_dir": "/tmp"}, "'tiny-cgan' is a conditional model; --input needs a translation"),
    ({"model": "tiny-cyclegan", "input_dir": "/no/such/folder"}, "'/no/such/folder' does not exist"),
    ({"model": "tiny-cyclegan", "input_dir": "/tmp", "n": 4}, "--n apply to generators; with --input"),
])
def test_bad_requests_are_user_errors(kwargs: dict[str, Any], message: str, studio: Any, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=message):
        write_dataset(DatasetRequest(**kwargs), tmp_path / "bad", studio=studio)


def test_the_command_line(tmp_path: Path, models_toml: str, capsys: pytest.CaptureFixture[str]) -> None:
    from gan_studio.cli import main

    out = tmp_path / "cli"
    base = ["dataset", "--models", models_toml, "--device", "cpu", "--model", "tiny-cgan", "--labels", "owl",
            "--n", "5", "--format", "imagefolder", "--shard-size", "2", "--out", str(out)]
    assert main(base) == 0
    assert f"{out}: 5 images in 3 imagefolder shard(s)" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "owl").iterdir()) == [f"{i:08d}.png" for i in range(5)]
    assert main(base) == 2
    assert "is not empty; pass --resume" in capsys.readouterr().err
    assert main([*base, "--resume"]) == 0  # a complete run: nothing to do
    assert main(["dataset", "--models", models_toml, "--model", "tiny-dcgan", "--n", "0", "--out",
                 str(tmp_path / "zero")]) == 2
    assert "at least 1, got 0" in capsys.readouterr().err


def test_without_ray_nothing_imports_ray(tmp_path: Path, models_toml: str) -> None:
    code = ("import sys; from gan_studio.cli import main; "
            f"assert main(['dataset', '--models', {models_toml!r}, '--model', 'tiny-dcgan', '--n', '2', '--device', "
            f"'cpu', '--out', {str(tmp_path / 'o')!r}]) == 0; "
            "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


# ---- Ray -----------------------------------------------------------------------------------------------
def test_the_ray_extra_matches_requirements_ray() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    lines = (REPO / "requirements-ray.txt").read_text(encoding="utf-8").splitlines()
    reqs = sorted(line.split("#")[0].strip().replace(" ", "") for line in lines if line.split("#")[0].strip())
    assert sorted(pyproject["project"]["optional-dependencies"]["ray"]) == reqs


@pytest.mark.slow
def test_a_ray_run_writes_the_files_of_a_local_run(digits_studio: Any, tmp_path: Path) -> None:
    """Two Ray Data actors on a local instance (2 CPUs) against the local run, with a filter that drops about
    half the candidates, so the run needs more than one window of chunks."""
    pytest.importorskip("ray.data")
    from gan_studio.datasets.ray_runner import init_ray

    request = DatasetRequest("digits-cgan", per_class=4, labels=("3", "8"), min_confidence=0.975, batch_size=4,
                             shard_size=3, format="parquet")
    local = write_dataset(request, tmp_path / "local", studio=digits_studio)
    ray = init_ray(num_cpus=2)
    try:
        remote = write_dataset(request, tmp_path / "ray", studio=digits_studio, ray_address="local", ray_workers=2,
                               device="cpu")
    finally:
        ray.shutdown()
    assert remote.total == local.total == 8 and remote.dropped == local.dropped and local.dropped
    assert digest(tmp_path / "ray") == digest(tmp_path / "local")


# ---- the Dataset tab -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_dataset_tab_returns_a_zip_and_is_capped_in_public_mode(app_env: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    from gradio_client.exceptions import AppError
    from launched_app import launch_app

    app = launch_app(tmp_path / "studio", public=True)
    try:
        assert "/dataset" in app.client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert all(dep.get("api_name") for dep in app.demo.config["dependencies"])  # every event, this tab's too
        path, info = app.client.predict("ui-cgan", 2, True, [], "parquet", 0, None, 0, False,
                                        api_name="/dataset")
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            assert {"README.md", "dataset_info.json", "manifest.json"} <= set(names)
            assert any(n.startswith("data/train-00000-of-00001") for n in names)
        assert info["num_images"] == 2 * len(info["class_names"]) and info["generator"]["model"] == "ui-cgan"
        with pytest.raises(AppError, match="greater than maximum value 256"):  # the component's own bound
            app.client.predict("ui-cgan", 1000, False, [], "parquet", 0, None, 0, False, api_name="/dataset")
        with pytest.raises(AppError, match=r"200 per class × \d+ classes = .* at most 256 here"):
            app.client.predict("ui-cgan", 200, True, [], "parquet", 0, None, 0, False, api_name="/dataset")
    finally:
        app.close()
