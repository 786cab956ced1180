"""The registry: the built-in catalogue, user TOML files, id/folder resolution, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import make_model, make_models_toml

import gan_studio
from gan_studio.errors import CatalogueError, UnknownModelError
from gan_studio.registry import Task, load_registry, read_catalogue, spec_from_folder


def test_builtin_catalogue_covers_every_task():
    registry = load_registry()
    tasks = {spec.task for spec in registry}
    assert tasks == set(Task), f"missing tasks: {set(Task) - tasks}"
    assert [s.id for s in gan_studio.list_models("translation")] == [s.id for s in registry.list(Task.TRANSLATION)]


def test_unknown_id_names_the_id_and_the_choices():
    registry = load_registry()
    with pytest.raises(UnknownModelError) as info:
        registry.resolve("no-such-model")
    message = str(info.value)
    assert "'no-such-model'" in message
    for spec in registry:
        assert spec.id in message


def test_user_toml_adds_models_with_paths_relative_to_the_file(tmp_path):
    toml = make_models_toml(tmp_path, ["tiny-cgan", "tiny-cyclegan", "tiny-stargan"])
    registry = load_registry(toml)
    cgan = registry.get("tiny-cgan")
    assert cgan.task == Task.CONDITIONAL
    assert cgan.labels == ("cat", "dog", "owl")
    assert cgan.kwargs["num_classes"] == 3  # filled in from config.json
    assert cgan.architecture == "conditional_dcgan"
    assert Path(cgan.source.path) == (tmp_path / "tiny-cgan").resolve()
    cyc = registry.get("tiny-cyclegan")
    assert list(cyc.variants) == ["AtoB", "BtoA"]
    assert cyc.source_for("BtoA").subfolder == "BtoA"
    assert cyc.card and cyc.card.endswith("README.md")
    star = registry.get("tiny-stargan")
    assert star.exclusive == (("red", "blue"),)
    assert star.preprocess == {"center_crop": 24, "resize": 16}
    # built-ins are still there
    assert "digits-dcgan" in registry


def test_unknown_variant_lists_the_variants(tmp_path):
    registry = load_registry(make_models_toml(tmp_path, ["tiny-cyclegan"]))
    with pytest.raises(UnknownModelError, match="AtoB, BtoA"):
        registry.get("tiny-cyclegan").source_for("sideways")


def test_local_folder_is_accepted_as_an_id(tmp_path):
    folder = make_model(tmp_path, "tiny-dcgan")
    spec = load_registry().resolve(str(folder))
    assert spec.task == Task.UNCONDITIONAL and spec.kwargs["nz"] == 8
    two_way = spec_from_folder(make_model(tmp_path, "tiny-cyclegan"))
    assert sorted(two_way.variants) == ["AtoB", "BtoA"]
    with pytest.raises(UnknownModelError, match="no config.json"):
        empty = tmp_path / "empty"
        empty.mkdir()
        spec_from_folder(empty)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[model]]\nid = 'x'\ntask = 'dreaming'\narchitecture = 'dcgan'\nhub = 'a/b'\n", "unknown task 'dreaming'"),
        ("[[model]]\nid = 'x'\ntask = 'unconditional'\narchitecture = 'dcgan'\n", "needs 'path'"),
        ("[[model]]\nid = 'x'\nhub = 'a/b'\npath = 'c'\ntask='unconditional'\narchitecture='dcgan'\n", "either 'path' or 'hub'"),
        ("[[model]]\nid = 'x'\nhub = 'not a repo'\ntask='unconditional'\narchitecture='dcgan'\n", "owner/name"),
        ("[[model]]\nid = 'x'\nhub = 'a/b'\ntask='unconditional'\narchitecture='dcgan'\ncolour = 1\n", "unknown keys ['colour']"),
        ("[[model]]\nid = 'x'\nhub = 'a/b'\ntask='multidomain'\narchitecture='stargan'\nlabels=['a']\nexclusive=[['a','z']]\n", "unknown labels ['z']"),
        ("[[model]]\nid = 'x'\nhub='a/b'\ntask='unconditional'\narchitecture='dcgan'\n[[model]]\nid = 'x'\nhub='a/c'\ntask='unconditional'\narchitecture='dcgan'\n", "appears twice"),
        ("model = 3", "array of tables"),
        ("[[model]\n", "not valid TOML"),
    ],
)
def test_malformed_models_files_are_reported(tmp_path, text, message):
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        read_catalogue(path)


def test_hub_entry_keeps_revision_and_files(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text(
        "[[model]]\nid = 'facades'\ntask = 'translation'\narchitecture = 'unet_256'\n"
        "hub = 'huggan/pix2pix-facades-demo'\nrevision = 'abc'\nfiles = ['pytorch_model.bin']\nlicense = 'mit'\n"
    )
    (spec,) = read_catalogue(path)
    assert spec.source.is_hub and spec.source.repo_id == "huggan/pix2pix-facades-demo"
    assert spec.source.revision == "abc" and spec.source.files == ("pytorch_model.bin",)
    assert spec.summary()["source"] == "hub:huggan/pix2pix-facades-demo@abc"
