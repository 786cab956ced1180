"""Where the studio's bundled files are: the embedded models (``checkpoints/``) and the examples.

In a checkout they sit at the repository's top level; an installed package (``pip install .``)
carries them inside the package (pyproject.toml maps the two folders into it).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHECKPOINTS_DIR", "DATA_ROOT", "EXAMPLES_DIR", "PACKAGE_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent
# The folder that holds checkpoints/ and examples/ (catalogue paths are relative to it).
DATA_ROOT = PACKAGE_DIR if (PACKAGE_DIR / "checkpoints").is_dir() else PACKAGE_DIR.parent
CHECKPOINTS_DIR = DATA_ROOT / "checkpoints"
EXAMPLES_DIR = DATA_ROOT / "examples"
