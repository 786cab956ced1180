"""Serving while training: another client's generate latency while a training run works, against
its latency with no training (docs/benchmarks.md quotes the printed ratio; run with ``-s``).

The launched studio (127.0.0.1, the built-in models) serves ``CALLS`` generate calls of 16 digits
from one client; then a second client (its own session) starts training on the built-in digits at
batch 64 in a worker process, and the first client sends the same calls again while the run trains.
Bounded in count and time. Asserted: every call is answered correctly in both phases, the run
really trains meanwhile (its step advances), a second run from the same session is refused, and the
server still answers after the run is stopped. The latency ratio is printed, never asserted (timings
belong to bench/, and this machine is shared).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from launched_app import App, launch_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")]

CALLS = 12
MODEL = "digits-dcgan"
TIMEOUT_S = 240


def _latencies(app: App, client: Any) -> list[float]:
    out = []
    for i in range(CALLS):
        t0 = time.perf_counter()
        gallery, params = client.predict(MODEL, 100 + i, 16, None, 0, api_name="/generate")
        out.append(time.perf_counter() - t0)
        assert len(gallery) == 16 and params["seed"] == 100 + i
    return out


def test_generate_latency_while_a_run_trains(app_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gan_studio.registry import load_registry

    app = launch_app(tmp_path, public=False, registry=load_registry())
    try:
        user = app.new_client(download=False)
        trainer = app.new_client(download=False)
        user.predict(MODEL, 0, 16, None, 0, api_name="/generate")  # load and warm the model
        idle = _latencies(app, user)

        trainer.predict("Built-in digits", [], "auto", "32", "non-saturating", 5000, 64, "auto", True, False, 0,
                        api_name="/train_start")
        t0 = time.monotonic()
        info: dict[str, Any] = {}
        while time.monotonic() - t0 < TIMEOUT_S:  # until the worker is really training
            info = trainer.predict(api_name="/train_status")[4]
            if info.get("status") == "running" and info.get("step", 0) >= 1:
                break
            time.sleep(1)
        assert info.get("status") == "running", info
        step_before = info["step"]
        busy = _latencies(app, user)
        info = trainer.predict(api_name="/train_status")[4]
        assert info["status"] == "running" and info["step"] > step_before, info  # it trained meanwhile
        with pytest.raises(Exception, match="this session is already training"):
            trainer.predict("Built-in digits", [], "auto", "32", "hinge", 100, 8, "auto", True, False, 0,
                            api_name="/train_start")
        trainer.predict(api_name="/train_stop")
        ratio = statistics.median(busy) / statistics.median(idle)
        print(f"\n[train-load] {MODEL} generate ×16, {CALLS} calls each: median {statistics.median(idle):.3f} s idle, "
              f"{statistics.median(busy):.3f} s while training (steps {step_before}→{info['step']}, "
              f"{info.get('step_time_s')} s/step, DCGAN-32 batch 64 in a worker process, 1 thread): ratio {ratio:.2f}; "
              f"p90 {sorted(idle)[int(0.9 * (CALLS - 1))]:.3f} s → {sorted(busy)[int(0.9 * (CALLS - 1))]:.3f} s")
        gallery, _ = app.new_client(download=False).predict(MODEL, 7, 1, None, 0, api_name="/generate")
        assert len(gallery) == 1
    finally:
        app.close()
