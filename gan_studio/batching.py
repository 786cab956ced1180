"""Micro-batching: concurrent generation requests for the same model share one forward pass.

A GAN makes an image in one forward pass, and a batch of 16 costs little more than a batch of 1
on most hardware. When several users ask the same model for images at the same moment, the first
request (the *leader*) waits a few milliseconds for others to join, runs all their latents as one
batch, and hands each request its own rows back. No background thread: the leader does the work
in its own (Gradio worker) thread, the followers wait for it.

Images do not depend on who they were batched with: each latent comes from its own seed and the
generators run in eval mode, so per-sample outputs are independent of the batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_WINDOW_S = 0.004  # how long a leader waits for other requests to join
DEFAULT_MAX_ROWS = 64  # the largest merged batch


@dataclass
class _Job:
    z: Any
    labels: Any | None
    done: threading.Event = field(default_factory=threading.Event)
    out: Any = None
    error: BaseException | None = None


class ForwardBatcher:
    """Merges concurrent ``forward(z, labels)`` calls that share a key into one call."""

    def __init__(self, *, window_s: float = DEFAULT_WINDOW_S, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.window_s = window_s
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._pending: dict[Any, list[_Job]] = {}
        self.calls = 0  # forward passes run (for tests and the benchmark)
        self.requests = 0  # requests served

    def run(self, key: Any, z: Any, labels: Any | None, forward: Callable[[Any, Any | None], Any]) -> Any:
        """``forward(z, labels)`` for this request's rows, possibly batched with concurrent ones."""
        import torch

        job = _Job(z, labels)
        with self._lock:
            self.requests += 1
            queue = self._pending.get(key)
            if queue is not None and sum(j.z.shape[0] for j in queue) + z.shape[0] <= self.max_rows:
                queue.append(job)
                leader = False
            else:
                self._pending[key] = [job]
                leader = True
        if not leader:
            job.done.wait()
            if job.error is not None:
                raise job.error
            return job.out

        time.sleep(self.window_s)  # let concurrent requests join this batch
        with self._lock:
            jobs = self._pending.pop(key)
            self.calls += 1
        try:
            z_all = torch.cat([j.z for j in jobs])
            labels_all = None if jobs[0].labels is None else torch.cat([j.labels for j in jobs])
            out = forward(z_all, labels_all)
            start = 0
            for j in jobs:
                j.out = out[start:start + j.z.shape[0]]
                start += j.z.shape[0]
        except BaseException as exc:  # every waiting request gets an answer, nobody hangs
            from .pipelines.common import is_out_of_memory

            if len(jobs) > 1 and is_out_of_memory(exc):
                # the merged batch did not fit: each request alone may (and retries smaller itself)
                for j in jobs:
                    try:
                        j.out = forward(j.z, j.labels)
                    except BaseException as own:  # noqa: BLE001 - handed to that request
                        j.error = own
            else:
                for j in jobs:
                    j.error = exc
        finally:
            for j in jobs:
                if j is not job:
                    j.done.set()
        if job.error is not None:
            raise job.error
        return job.out
