"""Micro-batching: concurrent generation requests for the same model share one forward pass.

A GAN makes an image in one forward pass, and a batch of 16 costs little more than a batch of 1
on most hardware. Requests for one model queue per key; one request at a time (the *leader*) runs
a forward pass over everything queued, up to ``max_rows`` latents, and hands each request its own
rows back. Requests that arrive while a pass runs wait for it and then go together in the next
one, so under load batches form by themselves and a request that finds the model idle runs at
once (no timer for a lone user), and no background thread (the leader works in its own Gradio
worker thread). Under load, when the previous pass was shared, a leader first waits
``load_window_s`` (4 ms) for more company: bigger batches, more images per second.
``window_s`` > 0 makes every leader wait that long (tests use it to make requests overlap).

Images do not depend on who they were batched with: each latent comes from its own seed and the
generators run in eval mode, so per-sample outputs are independent of the batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_WINDOW_S = 0.0  # wait of every leader for others to join (0: only those queued meanwhile)
DEFAULT_LOAD_WINDOW_S = 0.004  # wait of a leader when the previous pass was shared (under load)
DEFAULT_MAX_ROWS = 64  # the largest merged batch


@dataclass
class _Job:
    z: Any  # a tensor (N, ...); torch is not imported here
    labels: Any  # a tensor (N,), or None for an unconditional model
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to run the next pass rather than with a result
    out: Any = None
    error: BaseException | None = None


class ForwardBatcher:
    """Merges concurrent ``forward(z, labels)`` calls that share a key into one call."""

    def __init__(self, *, window_s: float = DEFAULT_WINDOW_S, load_window_s: float = DEFAULT_LOAD_WINDOW_S,
                 max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.window_s = window_s
        self.load_window_s = load_window_s
        self.max_rows = max_rows
        self._shared: dict[Any, bool] = {}  # whether the last pass of a key served more than one request
        self._lock = threading.Lock()
        self._pending: dict[Any, list[_Job]] = {}
        self._busy: set[Any] = set()  # keys with a pass running (or about to)
        self.calls = 0  # forward passes run (for tests and the benchmark)
        self.requests = 0  # requests served

    def run(self, key: Any, z: Any, labels: Any | None, forward: Callable[[Any, Any | None], Any]) -> Any:
        """``forward(z, labels)`` for this request's rows, possibly batched with concurrent ones."""
        job = _Job(z, labels)
        with self._lock:
            self.requests += 1
            self._pending.setdefault(key, []).append(job)
            job.lead = key not in self._busy
            self._busy.add(key)
        if not job.lead:
            job.done.wait()  # a leader ran our rows, or handed the next pass to us
            if not job.lead:
                return self._result(job)
        wait = max(self.window_s, self.load_window_s if self._shared.get(key) else 0.0)
        if wait > 0:
            time.sleep(wait)  # let concurrent requests join this batch
        with self._lock:
            queue = self._pending[key]
            jobs: list[_Job] = []
            rows = 0
            while queue and (not jobs or rows + queue[0].z.shape[0] <= self.max_rows):
                rows += queue[0].z.shape[0]
                jobs.append(queue.pop(0))
            self.calls += 1
            self._shared[key] = len(jobs) > 1
        try:
            self._run_batch(jobs, forward)
        finally:
            with self._lock:  # hand the next pass to the first request still waiting, if any
                waiting = self._pending.get(key)
                if waiting:
                    waiting[0].lead = True
                    waiting[0].done.set()
                else:
                    self._pending.pop(key, None)
                    self._busy.discard(key)
            for j in jobs:
                if j is not job:
                    j.lead = False
                    j.done.set()
        return self._result(job)

    @staticmethod
    def _result(job: _Job) -> Any:
        if job.error is not None:
            raise job.error
        return job.out

    @staticmethod
    def _run_batch(jobs: list[_Job], forward: Callable[[Any, Any | None], Any]) -> None:
        """Run ``jobs`` as one pass; every job gets its rows or the error (nobody hangs)."""
        import torch

        try:
            z_all = torch.cat([j.z for j in jobs])
            labels_all = None if jobs[0].labels is None else torch.cat([j.labels for j in jobs])
            out = forward(z_all, labels_all)
            start = 0
            for j in jobs:
                j.out = out[start:start + j.z.shape[0]]
                start += j.z.shape[0]
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting request (nobody hangs)
            from .memory import is_out_of_memory

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
