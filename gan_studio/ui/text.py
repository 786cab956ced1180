"""Markdown shown by the tabs: user-given text escaped, a model's one-paragraph description."""

from __future__ import annotations

import re
from typing import Any

from ..registry import ModelSpec

__all__ = ["COLORIZE_NOTE", "markdown_escape", "spec_blurb"]

#: What the Colorize tab should tell people about colorization and the embedded default (issue 15).
COLORIZE_NOTE = (
    "A colorizer guesses colours from brightness alone, so any colour it adds is a guess. The built-in "
    "**photo-colorizer** is deliberately cautious: it learned from three photos, adds very faint tints only "
    "where models trained on different photos agree, and leaves everything else grey, so its results look "
    "almost black-and-white. It does not restore a photo's real colours; its model card shows, photo by "
    "photo, how it compares with leaving the picture grey."
)


def markdown_escape(text: Any) -> str:
    """Text shown inside Markdown without being interpreted as markup."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>])", r"\\\1", str(text))


def spec_blurb(spec: ModelSpec) -> str:
    """A one-paragraph Markdown description of a model for the tabs."""
    size = f"{spec.image_size}×{spec.image_size} px" if spec.image_size else "any size"
    parts = [f"**{markdown_escape(spec.id)}** · {spec.task.value} · `{spec.architecture}` · {size} · "
             f"licence: {markdown_escape(spec.license)}"]
    if spec.description:
        parts.append(markdown_escape(spec.description))
    return "  \n".join(parts)
