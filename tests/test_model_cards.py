"""Model cards on the Models tab: images linked relative to the model folder are inlined, so the page
shows them (the folder itself is never served)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from gan_studio.registry import load_registry
from gan_studio.ui.models import CARD_IMAGE_MAX_BYTES, card_markdown, inline_card_images

REPO = Path(__file__).resolve().parents[1]
IMAGE_SRC = re.compile(r"!\[[^\]]*\]\(([^)\s]+)|<img\b[^>]*\ssrc=\"([^\"]*)\"")


def _sources(markdown: str) -> list[str]:
    return [a or b for a, b in IMAGE_SRC.findall(markdown)]


def _decoded(uri: str) -> Image.Image:
    header, _, data = uri.partition(",")
    assert re.fullmatch(r"data:image/(png|jpeg);base64", header), header
    raw = base64.b64decode(data, validate=True)
    assert len(raw) <= CARD_IMAGE_MAX_BYTES
    return Image.open(io.BytesIO(raw))


def test_relative_images_become_inline_data_uris(tmp_path: Path) -> None:
    Image.new("RGB", (40, 20), (200, 10, 10)).save(tmp_path / "samples.png")
    Image.new("RGB", (3000, 1500), (10, 200, 10)).save(tmp_path / "big photo.jpg", quality=95)
    (tmp_path / "sub").mkdir()
    Image.new("L", (8, 8), 7).save(tmp_path / "sub" / "grey.png")
    (tmp_path.parent / "outside.png").write_bytes((tmp_path / "samples.png").read_bytes())
    (tmp_path / "fake.png").write_text("<svg onload=alert(1)>")
    card = (
        "# card\n\n![samples (fixed seeds)](samples.png)\n\n![big](<big photo.jpg> \"a title\")\n\n"
        "![grey](./sub/grey.png)\n\n<img src=\"sub/grey.png\" alt=\"html grey\" width=\"64\">\n\n"
        "![escape](../outside.png)\n\n![missing](nope.png)\n\n![fake](fake.png)\n\n"
        "![remote](https://example.org/x.png)\n"
    )
    out = inline_card_images(card, tmp_path)
    sources = _sources(out)
    assert sources[-1] == "https://example.org/x.png"  # absolute links stay as they are
    inlined = sources[:-1]
    assert len(inlined) == 4 and all(s.startswith("data:image/") for s in inlined)
    assert _decoded(inlined[0]).size == (40, 20)
    assert max(_decoded(inlined[1]).size) == 1024  # downscaled
    assert _decoded(inlined[2]).size == (8, 8)
    assert 'alt="html grey" width="64"' in out
    # what cannot be inlined (outside the folder, missing, not an image) is its alt text, not a broken link
    for name in ("escape", "missing", "fake"):
        assert f"*[image not shown: {name}]*" in out
    assert "](samples.png" not in out and "outside.png" not in out and "nope.png" not in out


@pytest.mark.parametrize("model_id", ["digits-dcgan", "photo2sketch", "photo-colorizer", "digits-wgan-gp", "digits-progan"])
def test_embedded_cards_show_their_images(model_id: str) -> None:
    spec = load_registry().get(model_id)
    if not spec.card or not Path(spec.card).is_file():
        pytest.skip(f"{model_id} has no card")
    out = card_markdown(spec, lambda s: None)
    sources = _sources(out)
    assert sources, out[:500]
    assert all(s.startswith("data:image/") for s in sources), [s[:40] for s in sources]
    for uri in sources:
        _decoded(uri).load()


def test_every_tab_describes_the_chosen_model() -> None:
    """The blurb under each tab's model picker names the model, its task, architecture and licence."""
    from gan_studio.registry import load_registry
    from gan_studio.ui.text import spec_blurb

    spec = load_registry().get("digits-cgan")
    blurb = spec_blurb(spec)
    assert "digits-cgan" in blurb and "conditional" in blurb and "`conditional_dcgan`" in blurb
    assert f"licence: {spec.license}" in blurb and spec.description.split(",")[0][:20] in blurb


def test_colorizer_card_reports_every_heldout_image_beside_the_greyscale_baseline() -> None:
    """Issue 15: the embedded colorizer's card states, per held-out image and overall, its scores next
    to leaving the photo grey, what it can and cannot do, and shows every held-out photo."""
    import json

    folder = REPO / "checkpoints" / "photo-colorizer"
    card = (folder / "README.md").read_text(encoding="utf-8")
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["images"] >= 12 and len(metrics["per_image"]) == metrics["images"]
    assert "| image | PSNR ab (dB) | greyscale | CIEDE2000 | greyscale |" in card
    for name, scores in metrics["per_image"].items():
        row = next(line for line in card.splitlines() if line.startswith(f"| {name} |"))
        assert f"{scores['psnr_ab_db']:.2f}" in row and f"{scores['psnr_ab_baseline_db']:.2f}" in row
        assert f"{scores['ciede2000']:.2f}" in row and f"{scores['ciede2000_baseline']:.2f}" in row
    assert f"| **overall (mean of {metrics['images']})** |" in card
    assert "**What it can do:**" in card and "**What it cannot do:**" in card
    for photo in metrics["heldout_photos"]:
        assert f"](heldout_{photo}.png)" in card and (folder / f"heldout_{photo}.png").is_file()
    assert not any(f"heldout_{p.stem.split('_', 1)[1]}" not in card for p in folder.glob("heldout_*.png"))
