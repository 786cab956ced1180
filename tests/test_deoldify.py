"""DeOldify (Artistic / Stable): layout and numbers against the reference code, the fastai pickle
allow-list against hostile files, and the catalogue entries end to end through the test Hub.

The reference numbers in ``tests/data/deoldify_reference.safetensors`` were derived by running
DeOldify's own ``DynamicUnetDeep``/``DynamicUnetWide`` (jantic/DeOldify with its vendored fastai v1,
in a scratch directory; none of that code is here) with the weights :func:`seeded_state` makes from
each module's key list, on the inputs stored beside them. ``tests/data/deoldify_keys.json`` is the
reference's key and shape list at the published Artistic and Stable configs.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import torch


def seeded_state(template: Mapping[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights for a DeOldify state dict, the same for any module with these keys and shapes
    (each tensor drawn from its own seed, ``seed`` + the CRC of its key): fan-in scaled
    convolutions, batch norm with random statistics, a non-zero attention ``gamma``, and spectral
    norm vectors ``weight_u``/``weight_v`` from three power iterations on their weight (so σ = uᵀWv
    is near the top singular value, as in a trained file)."""

    def gen(key: str) -> torch.Generator:
        return torch.Generator().manual_seed(seed + zlib.crc32(key.encode()))

    out: dict[str, torch.Tensor] = {}
    for key in sorted(template):
        shape = tuple(template[key].shape)
        g = gen(key)
        stem = key.rsplit(".", 1)[0]
        name = key.rsplit(".", 1)[1]
        if name == "num_batches_tracked":
            out[key] = torch.zeros((), dtype=torch.long)
        elif name == "running_var":
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif name == "running_mean":
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif name == "gamma":
            out[key] = torch.randn(shape, generator=g) * 0.5
        elif name in ("weight_u", "weight_g") or (name == "weight_v" and f"{stem}.weight_orig" in template):
            continue  # derived from the weight below
        elif len(shape) == 1:  # biases and batch-norm affine parameters
            base = 1.0 if name == "weight" else 0.0
            out[key] = base + torch.randn(shape, generator=g) * 0.1
        else:  # convolution weights: weight, weight_orig (spectral), weight_v (weight norm)
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            out[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    for key in sorted(template):
        stem, name = key.rsplit(".", 1)
        if name == "weight_g":
            v = out[f"{stem}.weight_v"]
            out[key] = v.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * (1.0 + 0.1 * torch.rand(template[key].shape[0],
                                                                                          generator=gen(key)).view(-1, 1, 1, 1))
        elif name == "weight_u":
            w = out[f"{stem}.weight_orig"].flatten(1)
            u = torch.nn.functional.normalize(torch.randn(w.shape[0], generator=gen(key)), dim=0)
            for _ in range(3):
                v = torch.nn.functional.normalize(w.t() @ u, dim=0)
                u = torch.nn.functional.normalize(w @ v, dim=0)
            out[key], out[f"{stem}.weight_v"] = u, v
    return out
