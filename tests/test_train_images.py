"""Train on images: data reading (bad files skipped and counted, classes from sub-folders, zip
safety), the losses, the progressive schedule, the trainer and its resume, the export, the run
manager (limits, stop/resume, crashes, sessions) and the CLI. The launched-app and process tests
are in the slow set."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from shapes_data import shape_files, write_folder, write_zip

from gan_studio.errors import UserInputError
from gan_studio.training import image_gan as IG
from gan_studio.training import losses as L
from gan_studio.training.runs import RunLimits, RunManager

TINY = {"steps": 4, "batch_size": 4, "nz": 8, "ngf": 4, "ndf": 4, "sample_every": 2, "eval_every": 0,
        "eval_samples": 16}


def tiny(**overrides: Any) -> IG.TrainSettings:
    return IG.TrainSettings(**{**TINY, **overrides})


@pytest.fixture(scope="module")
def shapes_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_zip(tmp_path_factory.mktemp("zip") / "shapes.zip", shape_files(4, seed=3))


# ---- data -------------------------------------------------------------------------------------------
def test_a_zip_gives_images_classes_and_the_skipped_files(shapes_zip: Path) -> None:
    data = IG.load_image_data(shapes_zip, size=32)
    assert data.images.shape == (12, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.classes == ["circles", "squares", "triangles"]  # the wrapping "shapes/" folder is not a class
    assert data.labels is not None and data.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    skipped = dict(data.skipped)
    assert set(skipped) == {"shapes/circles/notes.txt", "shapes/squares/broken.png", "shapes/triangles/empty.png"}
    assert "text file" in skipped["shapes/circles/notes.txt"]
    summary = data.summary()
    assert summary["skipped"] == 3 and summary["per_class"] == {"circles": 4, "squares": 4, "triangles": 4}


def test_a_folder_and_loose_files_read_the_same_pixels(tmp_path: Path, shapes_zip: Path) -> None:
    folder = write_folder(tmp_path / "mine", shape_files(4, seed=3))
    from_folder = IG.load_image_data(folder, size=32)
    from_zip = IG.load_image_data(shapes_zip, size=32)
    assert torch.equal(from_folder.images, from_zip.images) and from_folder.classes == from_zip.classes
    loose = sorted((folder / "circles").glob("*.png")) + sorted((folder / "squares").glob("*.png"))
    unlabeled = IG.load_image_data(loose, size=16)
    assert len(unlabeled) == 8 and unlabeled.labels is None and unlabeled.classes == []
    assert [n for n, _ in unlabeled.skipped] == ["broken.png"]  # a truncated PNG among the files


def test_too_few_images_is_a_user_error_that_says_why(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "few", {k: v for k, v in list(shape_files(2, seed=0).items())[:3]})
    with pytest.raises(UserInputError, match=r"only 3 usable image\(s\) found \(at least 8"):
        IG.load_image_data(folder, size=32)
    with pytest.raises(UserInputError, match="no images given"):
        IG.load_image_data([], size=32)


def test_zip_members_outside_or_too_large_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = shape_files(3, seed=1, bad=False)
    path = tmp_path / "odd.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("../escape.png", next(iter(files.values())))
        zf.writestr("__MACOSX/circles/._0000.png", b"junk")
        zf.writestr("big/huge.png", b"\0" * 5000)
    monkeypatch.setattr(IG, "MAX_FILE_BYTES", 4000)
    data = IG.load_image_data(path, size=32)
    assert len(data) == 9  # 3 × 3 shapes; the escape and __MACOSX entries are never read
    assert dict(data.skipped) == {"big/huge.png": "larger than the 4,000 bytes allowed"}


def test_the_digits_are_built_in() -> None:
    data = IG.load_image_data(IG.DIGITS, size=32)
    assert data.kind == "digits" and len(data) == 1437 and data.channels == 1 and len(data.classes) == 10


# ---- losses and the schedule -------------------------------------------------------------------------
def test_the_losses_match_their_definitions() -> None:
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
    bce = F.binary_cross_entropy_with_logits
    d_ref = bce(real, torch.ones(64)) + bce(fake, torch.zeros(64))
    torch.testing.assert_close(L.d_loss("minimax", real, fake), d_ref)
    torch.testing.assert_close(L.d_loss("non-saturating", real, fake), d_ref)
    torch.testing.assert_close(L.g_loss("non-saturating", fake), bce(fake, torch.ones(64)))
    torch.testing.assert_close(L.g_loss("minimax", fake), torch.log1p(-torch.sigmoid(fake)).mean())
    torch.testing.assert_close(L.d_loss("wgan-gp", real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(L.d_loss("hinge", real, fake), L.d_hinge(real, fake))
    with pytest.raises(ValueError, match="unknown loss 'wasserstein'; choose one of: minimax, non-saturating"):
        L.g_loss("wasserstein", fake)


# ---- the trainer -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shapes(shapes_zip: Path) -> IG.ImageData:
    return IG.load_image_data(shapes_zip, size=32)


@pytest.mark.parametrize("loss", IG.LOSSES)
def test_every_loss_trains_a_step(shapes: IG.ImageData, loss: str) -> None:
    trainer = IG.ImageGANTrainer(tiny(loss=loss), shapes)
    before = [p.clone() for p in trainer.G.parameters()]
    out = trainer.train_step()
    assert set(out) >= {"loss_d", "loss_g"} and ("gp" in out) == (loss == "wgan-gp")
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
    assert trainer.conditional and trainer.arch == "conditional_dcgan"  # three classes: auto = conditional


def test_architecture_choice_and_its_errors(shapes: IG.ImageData) -> None:
    assert IG.ImageGANTrainer(tiny(architecture="dcgan"), shapes).arch == "dcgan"
    unlabeled = IG.ImageData(shapes.images, None, [], "x")
    with pytest.raises(UserInputError, match="needs classes"):
        IG.ImageGANTrainer(tiny(architecture="conditional_dcgan"), unlabeled)
    with pytest.raises(UserInputError, match="image size 48 is not offered on CPU; choose one of: 32, 64"):
        tiny(image_size=48).check()
    with pytest.raises(UserInputError, match="unknown loss 'l1'"):
        tiny(loss="l1").check()


@pytest.mark.parametrize("labelled", [False, True], ids=["unconditional", "conditional"])
def test_progressive_growing_trains_a_pggan_from_4_px_with_fade_ins(shapes: IG.ImageData, labelled: bool) -> None:
    from gan_studio.training.progressive import ProgressiveDiscriminator

    data = shapes if labelled else IG.ImageData(shapes.images, None, [], "x")
    trainer = IG.ImageGANTrainer(tiny(grow=True, steps=16), data)  # 4, 8, 16, 32 px: 4 steps each, 2 fading
    assert trainer.arch == "pggan" and trainer.g_kwargs["resolution"] == 32
    assert isinstance(trainer.D, IG.ConditionalProgressiveDiscriminator if labelled else ProgressiveDiscriminator)
    seen = []
    for _ in range(16):
        trainer.train_step()
        seen.append((trainer.resolution, trainer.lod))
        assert float(trainer.G.get_buffer("lod")) == trainer.lod
    lods = [lod for _, lod in seen]
    assert lods[0] == 3.0 and lods[-1] == 0.0
    assert all(a >= b for a, b in zip(lods, lods[1:], strict=False))  # never shrinks back
    assert [r for r, _ in seen[::4]] == [4, 8, 16, 32]
    assert any(lod != int(lod) for lod in lods)  # fade-ins blend two resolutions
    assert trainer.sample_grid().shape[0] == 3


def test_a_stopped_and_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, shapes: IG.ImageData) -> None:
    IG.train_images(tmp_path / "straight", tiny(steps=6), data=shapes)

    class StopAfter:
        def __init__(self, folder: Path, step: int) -> None:
            self.folder, self.step = folder, step

        def is_set(self) -> bool:
            progress = self.folder / IG.PROGRESS_NAME
            return progress.is_file() and json.loads(progress.read_text())["step"] >= self.step

    # sample_every=2: the progress file shows step 2, 4: stop is seen at 4
    first = IG.train_images(tmp_path / "resumed", tiny(steps=6), data=shapes, stop=StopAfter(tmp_path / "resumed", 3))
    assert first["status"] == "stopped" and first["step"] == 4
    assert (tmp_path / "resumed" / IG.MODEL_DIR / "model.safetensors").is_file()  # a stopped run exports too
    second = IG.train_images(tmp_path / "resumed", tiny(steps=6))  # the data comes from the folder
    assert second["status"] == "finished" and second["step"] == 6 and second["message"] == "finished 6 steps"
    assert [row[0] for row in second["losses"]] == [1, 2, 3, 4, 5, 6]
    a = torch.load(tmp_path / "straight" / IG.STATE_NAME, weights_only=True)["trainer"]["G"]
    b = torch.load(tmp_path / "resumed" / IG.STATE_NAME, weights_only=True)["trainer"]["G"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_the_exported_folder_is_a_studio_model_with_a_card(tmp_path: Path, shapes: IG.ImageData) -> None:
    from gan_studio.registry import Registry
    from gan_studio.studio import Studio

    progress = IG.train_images(tmp_path / "run", tiny(eval_samples=24), data=shapes)
    metrics = progress["metrics"][-1]
    assert "pixel_diversity_ratio" in metrics and "fid" not in metrics  # no offline feature network for photos
    assert "no feature network is available offline" in progress["measures"]
    folder = tmp_path / "run" / IG.MODEL_DIR
    card = (folder / "README.md").read_text()
    assert "12 images" in card and "3 file(s) were skipped" in card and '"loss": "non-saturating"' in card
    assert "pixel_diversity_ratio" in card and (folder / "samples.png").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["_gan_studio"]["labels"] == ["circles", "squares", "triangles"]
    studio = Studio(device="cpu", registry=Registry([]), batching=False)
    spec = studio.register_folder(folder, "trained-test")
    images = studio.generate(spec.id, seed=1, n=2, label="squares")
    assert [im.image.size for im in images] == [(32, 32), (32, 32)]


def test_digits_runs_report_class_accuracy_coverage_and_fid(tmp_path: Path) -> None:
    digits = IG.load_image_data(IG.DIGITS, size=32)
    progress = IG.train_images(tmp_path / "d", tiny(steps=2, eval_samples=40), data=digits)
    m = progress["metrics"][-1]
    assert {"class_accuracy", "classes_present", "class_entropy_nats", "fid", "kid"} <= set(m)
    assert 0 <= m["class_accuracy"] <= 1 and 1 <= m["classes_present"] <= 10 and m["fid"] > 0
    assert "digit evaluator" in progress["measures"]


def test_publishing_uploads_the_folder_with_the_token_only_for_that_call(
        tmp_path: Path, shapes: IG.ImageData, monkeypatch: pytest.MonkeyPatch) -> None:
    from gan_studio import hub
    from gan_studio.errors import HubError

    IG.train_images(tmp_path / "run", tiny(steps=1, eval_samples=16), data=shapes)
    folder = tmp_path / "run" / IG.MODEL_DIR
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="cannot upload to 'me/my-gan': the Hub is switched off"):
        IG.publish_model_folder(folder, "me/my-gan", token="hf_secret")
    with pytest.raises(UserInputError, match="not of the form owner/name"):
        IG.publish_model_folder(folder, "my-gan", token="hf_secret")
    calls: list[dict[str, Any]] = []

    def fake_upload(repo_id: str, path: Path, **kwargs: Any) -> str:
        calls.append({"repo": repo_id, "files": sorted(p.name for p in Path(path).iterdir()), **kwargs})
        return "https://hub.example/me/my-gan/commit/1"

    monkeypatch.setattr(hub, "upload_folder", fake_upload)
    assert IG.publish_model_folder(folder, "me/my-gan", token="hf_secret", private=True).endswith("/commit/1")
    assert calls[0]["files"] == ["README.md", "config.json", "model.safetensors", "samples.png"]
    assert calls[0]["token"] == "hf_secret" and calls[0]["private"] is True
    assert not any("hf_secret" in p.read_text(errors="ignore") for p in (tmp_path / "run").rglob("*.json"))


# ---- the run manager ---------------------------------------------------------------------------------
def wait(run: Any, manager: RunManager, until: float = 300.0) -> None:
    t0 = time.monotonic()
    while run.active and time.monotonic() - t0 < until:
        manager.poll()
        time.sleep(0.05)
    manager.poll()


def test_the_manager_enforces_its_limits_and_stops_and_resumes(tmp_path: Path, shapes_zip: Path) -> None:
    manager = RunManager(tmp_path / "runs", RunLimits(per_server=1, per_session=1, max_steps=30), mode="thread")
    try:
        run = manager.start("alice", [shapes_zip], tiny(steps=500, sample_every=1))
        assert run.settings.steps == 30 and "steps lowered from 500 to 30" in run.message
        with pytest.raises(UserInputError, match="this session is already training"):
            manager.start("alice", [shapes_zip], tiny())
        with pytest.raises(UserInputError, match="this server is already training 1 run"):
            manager.start("bob", [shapes_zip], tiny())
        assert manager.get(run.id, "wrong-token") is None and manager.get(run.id, session="bob") is None
        assert manager.get(run.id, run.token) is run and manager.session_run("alice") is run
        manager.stop(run)
        wait(run, manager)
        snap = run.snapshot()
        assert snap["status"] == "stopped" and snap["model_ready"] and snap["step"] < 30
        assert snap["data"]["skipped"] == 3
        manager.resume(run, 30)
        wait(run, manager)
        assert run.status == "finished" and run.progress()["step"] == 30
        with pytest.raises(UserInputError, match="is at step 30"):
            manager.resume(run, 40)  # the budget caps it at 30
        other = manager.start("bob", [shapes_zip], tiny())  # room again
        wait(other, manager)
        assert other.status == "finished"
    finally:
        manager.shutdown()


def test_a_crash_is_reported_and_the_manager_carries_on(tmp_path: Path, shapes_zip: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    manager = RunManager(tmp_path / "runs", RunLimits(per_server=1), mode="thread")
    original = IG.ImageGANTrainer.train_step

    def boom(self: IG.ImageGANTrainer) -> dict[str, float]:
        raise RuntimeError("simulated failure in a training step")

    monkeypatch.setattr(IG.ImageGANTrainer, "train_step", boom)
    try:
        run = manager.start("alice", [shapes_zip], tiny())
        wait(run, manager)
        assert run.status == "failed"
        assert run.snapshot()["message"] == "training crashed: RuntimeError: simulated failure in a training step"
        assert "simulated failure" in (run.folder / "error.log").read_text()
        bad = manager.start("alice", [tmp_path / "missing.zip"], tiny())  # the user's mistake, not a crash
        wait(bad, manager)
        assert bad.status == "failed" and bad.message.startswith("only 0 usable image(s) found")
        monkeypatch.setattr(IG.ImageGANTrainer, "train_step", original)
        again = manager.start("alice", [shapes_zip], tiny())
        wait(again, manager)
        assert again.status == "finished"
    finally:
        manager.shutdown()


def test_a_run_outlives_its_session_only_for_the_grace_period(tmp_path: Path, shapes_zip: Path) -> None:
    manager = RunManager(tmp_path / "runs", RunLimits(per_server=2, grace_s=0.2), mode="thread")
    gate = threading.Event()
    try:
        kept = manager.start("page-1", [shapes_zip], tiny(steps=2000, sample_every=1))
        dropped = manager.start("page-2", [shapes_zip], tiny(steps=2000, sample_every=1))
        manager.session_ended("page-1")
        manager.session_ended("page-2")
        assert manager.reattach(kept.id, "not-the-token", "page-1b") is None
        assert manager.reattach(kept.id, kept.token, "page-1b") is kept  # the reloaded page, in time
        gate.wait(0.4)
        manager.poll()
        wait(dropped, manager)
        assert dropped.status == "cancelled" and not dropped.folder.exists()
        assert manager.get(dropped.id, dropped.token) is None
        assert kept.active and kept.session == "page-1b"
        manager.stop(kept)
        wait(kept, manager)
        assert kept.status == "stopped"
    finally:
        manager.shutdown()


@pytest.mark.slow
def test_a_killed_worker_process_fails_only_its_run(tmp_path: Path, shapes_zip: Path) -> None:
    manager = RunManager(tmp_path / "runs", RunLimits(per_server=1), mode="process", poll_s=0.2)
    try:
        run = manager.start("alice", [shapes_zip], tiny(steps=100000, sample_every=1))
        t0 = time.monotonic()
        while run.progress().get("step", 0) < 2 and time.monotonic() - t0 < 120:
            time.sleep(0.2)
        assert run.active
        run.worker.kill()
        wait(run, manager, until=30)
        assert run.status == "failed" and "ended unexpectedly (exit code -9)" in run.message
    finally:
        manager.shutdown()


# ---- the CLI -----------------------------------------------------------------------------------------
def test_cli_trains_on_a_zip_and_resumes(tmp_path: Path, shapes_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gan_studio.cli import main

    out = tmp_path / "cli"
    args = ["train", "--data", str(shapes_zip), "--out", str(out), "--steps", "2", "--batch-size", "4",
            "--loss", "least-squares", "--eval-every", "0"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out / IG.MODEL_DIR)
    assert "data: 12 images, 3 skipped, classes circles, squares, triangles" in captured.err
    assert main([*args[:5], "--steps", "3", *args[7:]]) == 0  # resumes: no data needed again
    assert json.loads((out / IG.PROGRESS_NAME).read_text())["step"] == 3
    assert main(["train", "--out", str(out)]) == 2  # neither a recipe nor --data
    assert "name a recipe" in capsys.readouterr().err
