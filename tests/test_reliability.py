"""Engine-level faults: out-of-memory, memory after cache eviction, corrupt and hostile checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tiny_models import make_model, make_models_toml

from gan_studio.errors import CheckpointError
from gan_studio.pipelines.common import OutOfMemory
from gan_studio.studio import Studio

ROOT = Path(__file__).resolve().parents[1]


class OOMAbove(torch.nn.Module):
    """Wraps a generator and raises the accelerator's out-of-memory error above ``limit`` images."""

    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.calls = inner, limit, []

    @property
    def contract(self):  # the wrapped generator's declaration
        return self.inner.contract

    def forward(self, z, *args, **kwargs):
        self.calls.append(z.shape[0])
        if z.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return self.inner(z, *args, **kwargs)


@pytest.fixture
def studio(tmp_path):
    return Studio(models_file=str(make_models_toml(tmp_path, ["tiny-dcgan"])), device="cpu")


def _inject(studio: Studio, limit: int) -> OOMAbove:
    loaded = studio.load("tiny-dcgan")
    wrapper = OOMAbove(loaded.module, limit)
    key = next(iter(studio.cache._items))
    studio.cache._items[key] = replace(loaded, module=wrapper)
    return wrapper


def test_out_of_memory_retries_once_at_half_the_batch(studio):
    expected = [r.image.tobytes() for r in studio.generate("tiny-dcgan", seed=1, n=8, batch_size=8)]
    wrapper = _inject(studio, limit=4)
    results = studio.generate("tiny-dcgan", seed=1, n=8, batch_size=8)
    assert wrapper.calls == [8, 4, 4]
    assert [r.image.tobytes() for r in results] == expected  # same images, smaller batches


def test_out_of_memory_twice_is_a_clear_error_and_the_studio_keeps_serving(studio):
    wrapper = _inject(studio, limit=1)
    with pytest.raises(OutOfMemory, match="out of memory.*fewer or smaller"):
        studio.generate("tiny-dcgan", seed=1, n=8, batch_size=8)
    assert wrapper.calls == [8, 4]
    assert len(studio.generate("tiny-dcgan", seed=1, n=1)) == 1  # batch of one still fits


def test_corrupt_checkpoint_on_disk_mid_session(tmp_path):
    folder = make_model(tmp_path, "tiny-dcgan")
    studio = Studio(device="cpu")
    first = studio.generate(str(folder), seed=3)[0].image.tobytes()
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)  # corrupted after loading
    assert studio.generate(str(folder), seed=3)[0].image.tobytes() == first  # served from the cache
    studio.cache.clear()
    with pytest.raises(CheckpointError, match="model.safetensors"):
        studio.generate(str(folder), seed=3)


def test_pickled_code_in_a_model_folder_never_runs(tmp_path):
    canary = tmp_path / "canary"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(canary),))

    folder = make_model(tmp_path, "tiny-dcgan")
    (folder / "model.safetensors").unlink()
    torch.save({"state_dict": Payload()}, folder / "pytorch_model.bin")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    code = f"from gan_studio import load_generator; load_generator({str(folder)!r})"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "pytorch_model.bin" in result.stderr and "refused" in result.stderr
    assert not canary.exists()


def test_memory_returns_near_baseline_after_eviction(tmp_path):
    """Load three ~45 MB models into a cache with a 60 MB budget; RSS must come back down."""
    script = textwrap.dedent(f"""
        import sys, torch
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from gan_studio.architectures import build_architecture
        from gan_studio.models import ModelCache
        from gan_studio.registry import spec_from_folder
        from gan_studio.weights import save_model_folder

        def rss_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

        kwargs = {{"ngf": 64, "n_blocks": 9}}
        folders = []
        for i in range(3):
            folder = {str(tmp_path)!r} + f"/big{{i}}"
            save_model_folder(build_architecture("cyclegan_resnet", kwargs), folder, architecture="cyclegan_resnet",
                              kwargs=kwargs, meta={{"task": "translation"}})
            folders.append(spec_from_folder(folder))
        import gc; gc.collect()
        base = rss_mb()
        cache = ModelCache(max_bytes=60 * 2**20)
        peak = base
        for spec in folders:
            cache.get(spec, None, "cpu")
            peak = max(peak, rss_mb())
        kept = len(cache.keys())
        cache.clear()
        after = rss_mb()
        print(f"{{base:.0f}} {{peak:.0f}} {{after:.0f}} {{kept}}")
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    base, peak, after, kept = (float(x) for x in out.stdout.split())
    print(f"RSS MB: baseline {base:.0f}, peak while loading {peak:.0f}, after eviction {after:.0f}; kept {kept:.0f}")
    assert kept == 1  # only the newest fits the budget
    assert peak - base < 120  # never all three (~138 MB) at once: one kept + one loading + slack
    assert after - base < 40, f"memory did not come back: {base:.0f} -> {after:.0f} MB"
