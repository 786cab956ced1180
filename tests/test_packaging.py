"""The package as pip installs it: metadata agrees with requirements.txt, the embedded models and
examples travel inside it, and its two commands work from anywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements(name: str) -> list[str]:
    lines = (REPO / name).read_text(encoding="utf-8").splitlines()
    reqs = [re.sub(r"\s+#.*$", "", line).strip() for line in lines]
    return sorted(r for r in reqs if r and not r.startswith(("#", "-r")))


def _normalise(reqs: list[str]) -> list[str]:
    return sorted(r.replace(" ", "").lower() for r in reqs)


def test_dependencies_agree_with_the_requirements_files() -> None:
    assert _normalise(PYPROJECT["project"]["dependencies"]) == _normalise(_requirements("requirements.txt"))
    test_extra = _normalise(PYPROJECT["project"]["optional-dependencies"]["test"])
    assert test_extra == _normalise(_requirements("requirements-test.txt"))
    mcp_extra = _normalise(PYPROJECT["project"]["optional-dependencies"]["mcp"])
    assert mcp_extra == _normalise(_requirements("requirements-mcp.txt"))


def test_the_version_has_one_source() -> None:
    from gan_studio import __version__
    from gan_studio._version import __version__ as source

    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gan_studio._version.__version__"}
    assert __version__ == source and re.fullmatch(r"\d+\.\d+\.\d+", source)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built into a wheel and installed (without dependencies) into a folder of its own."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(out)], check=True, timeout=300, capture_output=True)
    wheel = next(out.glob("gan_studio-*.whl"))
    target = out / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300, capture_output=True)
    return target


def test_the_wheel_carries_the_models_the_examples_and_both_commands(installed: Path) -> None:
    package = installed / "gan_studio"
    assert (package / "checkpoints" / "digits-dcgan" / "model.safetensors").is_file()
    assert (package / "checkpoints" / "_evaluators" / "digits" / "config.json").is_file()
    assert (package / "examples" / "chelsea.jpg").is_file() and (package / "catalogue.toml").is_file()
    dist = next(installed.glob("gan_studio-*.dist-info"))
    entry_points = (dist / "entry_points.txt").read_text(encoding="utf-8")
    assert "gan-studio = gan_studio.cli:main" in entry_points
    assert "gan-studio-app = gan_studio.app:main" in entry_points
    assert zipfile.is_zipfile(next((installed.parent).glob("*.whl")))


def test_the_installed_package_lists_and_runs_its_embedded_models_from_anywhere(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    run = [sys.executable, "-c", "import sys; from gan_studio.cli import main; sys.exit(main(sys.argv[1:]))"]
    listed = subprocess.run([*run, "models"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "digits-dcgan" in listed.stdout and "photo-colorizer" in listed.stdout
    made = subprocess.run([*run, "generate", "--model", "digits-dcgan", "--seed", "1", "-o", "one.png"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "one.png").stat().st_size > 100
    app = subprocess.run([sys.executable, "-c", "import sys; from gan_studio.app import main; sys.exit(main())",
                          "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert app.returncode == 0 and "--share" in app.stdout, app.stderr
