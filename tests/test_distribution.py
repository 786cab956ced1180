"""FID, KID, precision/recall and density/coverage (gan_studio.evaluation.distribution), the FID
Inception's layout and numbers, and the `evaluate --fid` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_studio.evaluation.distribution import distribution_metrics, precision_recall
from gan_studio.evaluation.features import FeatureNetworkUnavailable, FIDInceptionV3, feature_network

DATA = Path(__file__).parent / "data"


def seeded_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The deterministic weights tests/data/fid_inception_reference.safetensors was computed with
    (pytorch-fid's FID Inception built with these weights, run outside the repository)."""
    out = {}
    for i, k in enumerate(sorted(state)):
        t = state[k]
        g = torch.Generator().manual_seed(i)
        if k.endswith("num_batches_tracked"):
            out[k] = t.clone()
        elif k.endswith("running_var"):
            out[k] = torch.rand(t.shape, generator=g) + 0.5
        elif k.endswith("running_mean"):
            out[k] = torch.randn(t.shape, generator=g) * 0.1
        elif k.endswith("bn.weight"):
            out[k] = torch.rand(t.shape, generator=g) + 0.5
        elif k.endswith("bias"):
            out[k] = torch.randn(t.shape, generator=g) * 0.1
        else:
            fan_in = t[0].numel() if t.dim() > 1 else 1
            out[k] = torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5
    return out


def test_fid_inception_layout_is_pytorch_fids_key_for_key():
    reference = json.loads((DATA / "fid_inception_keys.json").read_text())
    ours = {k: list(v.shape) for k, v in FIDInceptionV3().state_dict().items()}
    assert ours == reference


def test_fid_inception_reproduces_the_reference_features(one_thread, tmp_path):
    from safetensors.torch import save_file

    net = FIDInceptionV3()
    weights = tmp_path / "weights.safetensors"
    save_file(seeded_weights(net.state_dict()), str(weights))
    net.load_fid_weights(weights)  # through the studio's weights-only loader, strict
    ref = load_file(str(DATA / "fid_inception_reference.safetensors"))
    with torch.no_grad():
        got = net(ref["input"])
    torch.testing.assert_close(got, ref["features"], atol=1e-4, rtol=1e-4)


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al.'s formula with scipy's matrix square root (independent of torchmetrics)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


def reference_kid(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (Bińkowski et al.) on the whole sets."""
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    m = len(a)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.mean())


def test_fid_and_kid_match_the_formulas():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(200, 16, generator=gen, dtype=torch.float64)
    fake = torch.randn(200, 16, generator=gen, dtype=torch.float64) * 1.3 + 0.4
    m = distribution_metrics(real, fake, kid_subset_size=200, kid_subsets=3)
    assert m["fid"] == pytest.approx(reference_fid(real.numpy(), fake.numpy()), rel=1e-3)
    assert m["kid"] == pytest.approx(reference_kid(real.numpy(), fake.numpy()), rel=1e-3, abs=1e-6)
    same = distribution_metrics(real, real.clone(), kid_subset_size=200, kid_subsets=3)
    assert same["fid"] == pytest.approx(0.0, abs=1e-3) and m["fid"] > 10 * max(same["fid"], 1e-3)


def test_precision_recall_see_mode_collapse():
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(300, 2, generator=gen)
    collapsed = real[real[:, 0] > 1.0][:100] + 0.01 * torch.randn(100, 2, generator=gen)[: int((real[:, 0] > 1.0).sum())]
    m = precision_recall(real, collapsed)
    assert m["precision"] > 0.9  # every collapsed sample looks real
    assert m["recall"] < 0.4 and m["coverage"] < 0.4  # but most of the real data is never produced
    full = precision_recall(real, torch.randn(300, 2, generator=gen))
    assert full["recall"] > 0.8 and full["coverage"] > 0.8


def test_inception_offline_is_a_clear_error_not_a_substitute(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    monkeypatch.delenv("GAN_STUDIO_FID_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FeatureNetworkUnavailable, match="pt_inception-2015-12-05-6726825d.pth.*--features digits"):
        feature_network("inception")
    with pytest.raises(Exception, match="unknown feature network 'vgg'; choose one of: inception, digits"):
        feature_network("vgg")


def write_digits(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        arr = ((img[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
        Image.fromarray(arr, "L").save(folder / f"{i:04d}.png")


def test_evaluate_fid_command_on_digits(tmp_path, capsys, one_thread):
    from gan_studio.cli import main
    from gan_studio.data import load_digits_32

    train, _ = load_digits_32("train")
    test, _ = load_digits_32("test")
    write_digits(tmp_path / "real", test[:120])
    write_digits(tmp_path / "other_real", train[:120])
    noise = torch.rand(120, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    write_digits(tmp_path / "noise", noise)
    (tmp_path / "noise" / "broken.png").write_bytes(b"not a png")
    assert main(["evaluate", "--fid", str(tmp_path / "real"), str(tmp_path / "other_real"),
                 "--features", "digits", "--kid-subset", "100", "--json"]) == 0
    close = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--fid", str(tmp_path / "real"), str(tmp_path / "noise"),
                 "--features", "digits", "--kid-subset", "100", "--json"]) == 0
    far = json.loads(capsys.readouterr().out)
    assert "studio evaluator" in close["features"] and close["comparable_with_published"] is False
    assert far["skipped_fake"] == 1  # the broken file is counted, not fatal
    assert far["fid"] > 5 * close["fid"] and far["kid"] > close["kid"]
    assert close["recall"] > far["recall"]


def test_evaluate_model_against_real_folder(tmp_path, capsys, one_thread):
    from gan_studio.cli import main
    from gan_studio.data import load_digits_32

    test, _ = load_digits_32("test")
    write_digits(tmp_path / "real", test[:100])
    assert main(["evaluate", "--model", "digits-dcgan", "-n", "100", "--real", str(tmp_path / "real"),
                 "--features", "digits", "--kid-subset", "50", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["model"] == "digits-dcgan" and m["n_fake"] == 100 and m["n_real"] == 100
    assert np.isfinite(m["fid"]) and 0 <= m["precision"] <= 1


def test_evaluate_rejects_too_few_images(tmp_path, capsys):
    from gan_studio.cli import main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["evaluate", "--fid", str(tmp_path / "a"), str(tmp_path / "b"), "--features", "digits"]) == 2
    assert "holds 0 images" in capsys.readouterr().err
