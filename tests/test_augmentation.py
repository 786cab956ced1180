"""The k-shot augmentation experiment (gan_studio.training.augmentation): its subsets, its
classifier and the files it writes; the full run is docs/augmentation.md."""

from __future__ import annotations

import json

import pytest
import torch

from gan_studio import data as D
from gan_studio.training.augmentation import accuracy, kshot_subset, run_experiment, train_classifier


def test_kshot_subsets_take_k_training_digits_per_class():
    x, y = kshot_subset(5, seed=0)
    assert x.shape == (50, 1, 32, 32) and torch.bincount(y, minlength=10).tolist() == [5] * 10
    again, _ = kshot_subset(5, seed=0)
    other, _ = kshot_subset(5, seed=1)
    assert torch.equal(x, again) and not torch.equal(x, other)
    train, _ = D.load_digits_32("train")
    test, _ = D.load_digits_32("test")
    flat = train.flatten(1)
    assert all((flat == row).all(1).any() for row in x.flatten(1))  # drawn from the training split
    assert not any((test.flatten(1) == row).all(1).any() for row in x.flatten(1))  # never a test digit
    with pytest.raises(ValueError, match="k=500 is more than"):
        kshot_subset(500, seed=0)


def test_classifier_learns_and_more_data_helps(one_thread):
    test_x, test_y = D.load_digits_32("test")
    few_x, few_y = kshot_subset(2, seed=0)
    many_x, many_y = kshot_subset(30, seed=0)
    few = accuracy(train_classifier(few_x, few_y, seed=0, steps=60), test_x, test_y)
    many = accuracy(train_classifier(many_x, many_y, seed=0, steps=60), test_x, test_y)
    assert many > 0.7 and many > few + 0.05


def test_experiment_writes_its_table_and_plot(tmp_path, one_thread):
    out = tmp_path / "aug"
    run_experiment(out, ks=(3, 6), seeds=(0, 1), steps=5, settings=("real", "real+classical"))
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 2 * 2 * 2
    assert set(results["summary"]) == {"real", "real+classical"}
    assert results["summary"]["real"]["3"]["n"] == 2
    table = (out / "results.md").read_text()
    assert "| real+classical |" in table and "k = 6" in table
    assert (out / "accuracy.png").stat().st_size > 1000
