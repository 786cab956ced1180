"""Load test: many concurrent ``gradio_client`` clients against the launched studio on 127.0.0.1.

Each client (its own session) sends ``REQUESTS`` generate calls one after the other on a tiny model;
all clients run at once. Every call must either succeed (one image back) or be refused with
Gradio's "Queue is full" message; none may fail otherwise or hang. The latency percentiles,
throughput and counts are printed (run with ``-s``; docs/security.md quotes them).

Two configurations: the default studio (queue of 64, two model calls at a time) with 32 clients,
and a public studio (queue of 32, one at a time) with 40 clients, more than its queue holds, so the
queue-full path is exercised under real load.
"""

from __future__ import annotations

import concurrent.futures as futures
import statistics
import time
from pathlib import Path

import pytest
from launched_app import App, launch_app

pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")

REQUESTS = 5  # per client, one after the other
REQUEST_TIMEOUT_S = 60  # one call waiting longer than this counts as hung
GLOBAL_TIMEOUT_S = 150  # the whole run


def _one_client(app: App, index: int) -> list[tuple[str, float, str]]:
    """``REQUESTS`` generate calls from one new client: ``(outcome, seconds, detail)`` each."""
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    client = app.new_client()
    results = []
    for r in range(REQUESTS):
        seed = index * 100 + r
        t0 = time.perf_counter()
        job = client.submit("ui-dcgan", seed, 1, None, 0, api_name="/generate")
        try:
            gallery, params = job.result(timeout=REQUEST_TIMEOUT_S)
            ok = len(gallery) == 1 and params["seed"] == seed and Path(gallery[0]["image"]).is_file()
            results.append(("ok" if ok else "wrong", time.perf_counter() - t0, "" if ok else repr(params)[:80]))
        except QueueError as exc:
            kind = "queue_full" if "Queue is full" in str(exc) else "error"
            results.append((kind, time.perf_counter() - t0, str(exc)[:120]))
        except futures.TimeoutError:
            results.append(("hung", time.perf_counter() - t0, f"no answer in {REQUEST_TIMEOUT_S} s"))
        except (AppError, Exception) as exc:  # noqa: BLE001 - every other failure is counted and shown
            results.append(("error", time.perf_counter() - t0, f"{type(exc).__name__}: {str(exc)[:120]}"))
    return results


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@pytest.mark.parametrize("public, clients", [(False, 32), (True, 40)], ids=["default-32-clients", "public-40-clients"])
def test_concurrent_clients_are_all_answered(app_env: pytest.MonkeyPatch, tmp_path: Path, public: bool,
                                             clients: int) -> None:
    from gan_studio.ui import QUEUE_SIZE

    app = launch_app(tmp_path, public=public)
    demo, studio = app.demo, app.studio
    try:
        app.client.predict("ui-dcgan", 0, 1, None, 0, api_name="/generate")  # warm
        started = time.perf_counter()
        with futures.ThreadPoolExecutor(max_workers=clients) as pool:
            running = [pool.submit(_one_client, app, i) for i in range(clients)]
            done, not_done = futures.wait(running, timeout=GLOBAL_TIMEOUT_S)
            elapsed = time.perf_counter() - started
            outcomes: list[tuple[str, float, str]] = []
            for f in done:
                outcomes.extend(f.result())
            hung_clients = len(not_done)
            for f in not_done:
                f.cancel()
        counts = {k: sum(1 for o in outcomes if o[0] == k) for k in ("ok", "queue_full", "error", "wrong", "hung")}
        ok_latency = [s for kind, s, _ in outcomes if kind == "ok"]
        total = clients * REQUESTS
        queue_left = len(demo._queue)
        batcher = studio.load("ui-dcgan").batcher
        print(f"\n[load {'public' if public else 'default'}] {clients} clients × {REQUESTS} calls = {total} in "
              f"{elapsed:.1f} s (queue max {QUEUE_SIZE[public]}): {counts['ok']} served, {counts['queue_full']} "
              f"'Queue is full', {counts['error']} errors, {counts['wrong']} wrong, {counts['hung']} hung, "
              f"{hung_clients} clients unfinished; throughput {counts['ok'] / elapsed:.1f} images/s")
        if ok_latency:
            print(f"[load {'public' if public else 'default'}] latency of served calls: "
                  f"p50 {_percentile(ok_latency, 0.5):.2f} s, p90 {_percentile(ok_latency, 0.9):.2f} s, "
                  f"p99 {_percentile(ok_latency, 0.99):.2f} s, max {max(ok_latency):.2f} s, "
                  f"mean {statistics.fmean(ok_latency):.2f} s"
                  + (f"; {batcher.requests} model calls ran as {batcher.calls} forward passes" if batcher else ""))
        problems = [o for o in outcomes if o[0] not in ("ok", "queue_full")]
        assert hung_clients == 0, f"{hung_clients} clients did not finish within {GLOBAL_TIMEOUT_S} s"
        assert problems == [], problems[:5]
        assert counts["ok"] + counts["queue_full"] == total == len(outcomes)
        assert counts["ok"] >= total // 2, counts  # most calls are served, not refused
        assert queue_left == 0  # nothing left waiting on the server
        # and the server still answers afterwards
        gallery, _ = app.new_client().predict("ui-dcgan", 7, 1, None, 0, api_name="/generate")
        assert len(gallery) == 1
    finally:
        app.close()
