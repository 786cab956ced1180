"""The Real-ESRGAN catalogue entries, offline: reference-structured files published on the tests' Hub.

The reduced RRDBNet / SRVGGNetCompact state dicts of tests/data/realesrgan_reference.safetensors
(made by the upstream modules, seeded random weights) are published under each entry's repo id and
file name, as the real repos hold them: a plain state dict in ``.safetensors`` (kornia/real_esrgan
keeps the release's ``params_ema`` dict unchanged; OzzyGT's repos likewise), and the release
``.pth`` layout ``{"params": state_dict}`` read weights-only under the entry's ``key``. The studio
downloads, loads strictly and must give the upstream module's output. The full-size layouts are
checked key for key in tests/test_upscale.py; RUN_ONLINE=1 tests/test_online.py downloads the real files.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hub_publishing import publish_source, torch_bytes
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save

from gan_studio.registry import Registry
from gan_studio.studio import Studio

REFERENCE = Path(__file__).parent / "data" / "realesrgan_reference.safetensors"
# catalogue id -> the reduced reference case of the same architecture and scale
CASES = {
    "kornia/real_esrgan:x4plus": "rrdb_x4",
    "kornia/real_esrgan:x2plus": "rrdb_x2",
    "kornia/real_esrgan:x4plus-anime-6B": "rrdb_6b",
    "OzzyGT/RealESRGAN_general_x4v3": "srvgg_prelu",
    "OzzyGT/RealESRGAN_anime_v3": "srvgg_prelu",
    "Ryukz/Custom-SD-File-Requirements:realesr-general-x4v3": "srvgg_prelu",
}


def _case(name: str) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict[str, object]]:
    with safe_open(str(REFERENCE), framework="pt") as f:
        config = json.loads((f.metadata() or {})["configs"])[name]
        prefix = f"{name}.weights."
        sd = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
        return sd, f.get_tensor(f"{name}.input"), f.get_tensor(f"{name}.output"), config


@pytest.mark.parametrize("model_id", sorted(CASES))
def test_entry_downloads_loads_strictly_and_matches_upstream(hub_server, catalogue, model_id):
    spec = catalogue.get(model_id)
    sd, x, expected, config = _case(CASES[model_id])
    shared = {k: v for k, v in config.items() if k in spec.kwargs}
    assert {k: spec.kwargs[k] for k in ("num_in_ch", "num_out_ch")} == {"num_in_ch": 3, "num_out_ch": 3}
    # the published architecture and scale, reduced in width and depth
    for k in ("scale", "upscale", "act_type"):
        if k in spec.kwargs:
            assert spec.kwargs[k] == config[k], k
    spec = replace(spec, kwargs={**spec.kwargs, **shared})
    (name,) = spec.source.files
    if name.endswith(".safetensors"):
        data = save({k: v.contiguous() for k, v in sd.items()})
    else:
        assert spec.source.key == "params"
        data = torch_bytes({spec.source.key: sd})
    commit = publish_source(hub_server, spec, {name: data})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    loaded = studio.load(spec.id)
    assert loaded.revision == commit
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), expected, rtol=0, atol=1e-5)
    # and through the pipeline: an 8-bit image in, scale× larger out, with provenance
    image = Image.fromarray((x[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    result = studio.upscale(spec.id, image, tile_size=16)
    assert result.image.size == (image.width * loaded.contract.scale, image.height * loaded.contract.scale)
    assert result.params["model"] == spec.id and result.params["revision"] == commit
