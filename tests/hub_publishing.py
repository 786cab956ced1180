"""Publishing a catalogue entry's files on the tests' Hub server: one helper for every catalogue test
(test_hub_catalogue, test_hub_stylegan, test_hub_stylegan3, test_hub_ffhq)."""

from __future__ import annotations

import io
from typing import Any

import torch

from gan_studio.registry import ModelSpec


def torch_bytes(obj: object) -> bytes:
    """``obj`` as a ``torch.save`` file (a pickle, as the Hub's ``.bin``/``.pt``/``.pth`` files are)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def publish_source(hub: Any, spec: ModelSpec, files: dict[str, bytes], variant: str | None = None) -> str:
    """Publish ``files`` where ``spec``'s (variant's) source points: its repo, at its pinned revision.

    The test Hub makes its own commit shas, so a pinned 40-hex revision is published as a branch of
    that name; the server then answers it with its commit. Returns that commit."""
    source = spec.source_for(variant)
    return str(hub.publish(source.repo_id, files, revision=source.revision or "main"))


def reference_state_dict(reference: dict[str, torch.Tensor], case: str) -> dict[str, torch.Tensor]:
    """The state dict of reference ``case`` from a ``tests/data/*_reference.safetensors`` file
    (keys ``<case>/sd/<key>``)."""
    prefix = f"{case}/sd/"
    return {k[len(prefix):]: v.clone() for k, v in reference.items() if k.startswith(prefix)}
