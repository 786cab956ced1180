"""Training runs off the request path: :class:`RunManager` starts, watches, stops, resumes and cancels
image-training runs (:func:`gan_studio.training.image_gan.train_images`).

Each run trains in its own worker — by default a separate process (``multiprocessing`` *spawn*)
with ``torch.set_num_threads(limits.threads)``, so its compute threads and its Python interpreter
are its own: generation requests in the server keep their threads and never wait on the GIL held
by a training step, and a crash (even a killed process) ends that run only. The worker writes
``progress.json`` and ``grid.png`` into the run folder; the manager reads them for the page.

Limits (:class:`RunLimits`): runs at once per server and per session, and in public mode a step
and time budget per run and fewer images. A run belongs to a session; when the session ends the
run is cancelled after a grace period unless the same browser reattaches (a page reload) with
the run's id and secret token.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import secrets
import shutil
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UserInputError
from .image_gan import GRID_NAME, MAX_IMAGES, MODEL_DIR, PROGRESS_NAME, TrainSettings

logger = logging.getLogger(__name__)

__all__ = ["ACTIVE", "RunLimits", "RunManager", "TrainingRun", "run_worker"]

#: Statuses of a run that still holds a worker.
ACTIVE = ("starting", "reading data", "running", "stopping", "evaluating", "exporting")
ERROR_NAME = "error.log"


@dataclass(frozen=True)
class RunLimits:
    """What a server allows.

    ``per_server``/``per_session``: runs training at once; ``max_steps``/``max_seconds``: the budget of
    one run (``None``: none); ``max_images``: images read per run; ``threads``: torch threads of a
    worker; ``grace_s``: how long a run outlives its session (a page reload reattaches within it).
    """

    per_server: int = 2
    per_session: int = 1
    max_steps: int | None = None
    max_seconds: float | None = None
    max_images: int = MAX_IMAGES
    threads: int = 1
    grace_s: float = 120.0

    @classmethod
    def public(cls) -> RunLimits:
        """The limits of a public studio (``--public``, Spaces): one run at a time, 1,500 steps or
        15 minutes each, at most 1,000 images."""
        return cls(per_server=1, per_session=1, max_steps=1500, max_seconds=900.0, max_images=1000)


def _write_status(folder: Path, status: str, message: str) -> None:
    """Set the status of ``folder``'s progress record, keeping the rest."""
    path = folder / PROGRESS_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        record = {}
    record.update(status=status, message=message)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)


def run_worker(folder: str, sources: Sequence[str] | None, settings: dict[str, Any], max_images: int,
               max_seconds: float | None, threads: int, stop: Any) -> None:
    """The body of a run's worker (process or thread): read the data (first start only), train,
    export. Errors never escape: the user's mistakes become status ``failed`` with their message,
    anything else ``failed`` with "training crashed" and the traceback in ``error.log``."""
    import torch

    from .image_gan import load_image_data, train_images

    out = Path(folder)
    if threads:
        torch.set_num_threads(threads)
    try:
        s = TrainSettings.from_dict(settings)
        data = None
        if sources is not None:
            _write_status(out, "reading data", "decoding your images…")
            data = load_image_data(list(sources), size=s.image_size, max_images=max_images)
        train_images(out, s, data=data, stop=stop, max_seconds=max_seconds)
    except UserInputError as exc:
        _write_status(out, "failed", str(exc))
    except Exception as exc:  # reported in the tab; the server carries on
        (out / ERROR_NAME).write_text(traceback.format_exc(), encoding="utf-8")
        logger.exception("training run in %s crashed", out)
        _write_status(out, "failed", f"training crashed: {type(exc).__name__}: {exc}")


@dataclass
class TrainingRun:
    """One run: its folder, owner, settings and worker. Read it with :meth:`snapshot`."""

    id: str
    token: str
    session: str
    folder: Path
    settings: TrainSettings
    status: str = "starting"
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    orphaned_at: float | None = None  # when its session ended (None: attached)
    registered: list[str] = field(default_factory=list)  # model ids made from it ("Use this model")
    worker: Any = None
    stop_event: Any = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def model_dir(self) -> Path:
        return self.folder / MODEL_DIR

    def progress(self) -> dict[str, Any]:
        """The worker's latest progress record (``{}`` before the first)."""
        path = self.folder / PROGRESS_NAME
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return record

    def snapshot(self) -> dict[str, Any]:
        """Progress + the manager's view (status, message, grid path, whether a model folder exists)."""
        record = self.progress()
        record["id"] = self.id
        record["status"] = self.status
        record["message"] = self.message or record.get("message", "")
        grid = self.folder / GRID_NAME
        record["grid"] = str(grid) if grid.is_file() else None
        record["model_ready"] = (self.model_dir / "config.json").is_file() and not self.active
        return record


class RunManager:
    """Starts and tracks :class:`TrainingRun` s under ``root`` within ``limits``.

    ``mode="process"`` (default) trains in a spawned process per run; ``"thread"`` in a thread of
    this process (tests, the CLI). ``device`` is where runs train.
    """

    def __init__(self, root: str | os.PathLike[str], limits: RunLimits | None = None, *, mode: str = "process",
                 device: str = "cpu", poll_s: float = 0.5) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', got {mode!r}")
        self.root = Path(root)
        self.limits = limits or RunLimits()
        self.mode = mode
        self.device = device
        self.poll_s = poll_s
        self._runs: dict[str, TrainingRun] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._monitor: threading.Thread | None = None

    # ---- queries -------------------------------------------------------------------------------
    def active_runs(self) -> list[TrainingRun]:
        with self._lock:
            return [r for r in self._runs.values() if r.active]

    def get(self, run_id: str | None, token: str | None = None, *, session: str | None = None) -> TrainingRun | None:
        """The run ``run_id`` if ``token`` is its secret or ``session`` owns it; else None."""
        if not run_id:
            return None
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            return None
        if (token is not None and secrets.compare_digest(token, run.token)) or (session is not None and session == run.session):
            return run
        return None

    def session_run(self, session: str) -> TrainingRun | None:
        """The newest run of ``session``."""
        with self._lock:
            runs = [r for r in self._runs.values() if r.session == session and not r.cancelled]
        return max(runs, key=lambda r: r.started) if runs else None

    # ---- start / stop / resume -----------------------------------------------------------------
    def start(self, session: str, sources: Sequence[str | os.PathLike[str]] | str, settings: TrainSettings) -> TrainingRun:
        """Start a run for ``session`` on ``sources`` (paths, or ``"digits"``). Raises
        :class:`UserInputError` when a limit is reached or a setting is invalid."""
        settings = replace(settings, device=self.device)
        notes: list[str] = []
        if self.limits.max_steps is not None and settings.steps > self.limits.max_steps:
            notes.append(f"steps lowered from {settings.steps} to {self.limits.max_steps}, this server's budget per run")
            settings = replace(settings, steps=self.limits.max_steps)
        settings.check()
        paths = sources if isinstance(sources, str) else [os.fspath(s) for s in sources]
        with self._lock:
            self._check_room(session)
            run_id = secrets.token_hex(6)
            run = TrainingRun(id=run_id, token=secrets.token_urlsafe(16), session=session,
                              folder=self.root / run_id, settings=settings, message="; ".join(notes))
            run.folder.mkdir(parents=True, exist_ok=True)
            self._runs[run_id] = run
        self._launch(run, [paths] if isinstance(paths, str) else paths)
        return run

    def _check_room(self, session: str) -> None:
        mine = [r for r in self._runs.values() if r.active and r.session == session]
        if len(mine) >= self.limits.per_session:
            raise UserInputError(f"this session is already training (run {mine[0].id}); stop it before starting "
                                 f"another (at most {self.limits.per_session} per session)")
        active = [r for r in self._runs.values() if r.active]
        if len(active) >= self.limits.per_server:
            raise UserInputError(f"this server is already training {len(active)} run(s), its limit; "
                                 f"try again when one has finished")

    def _launch(self, run: TrainingRun, sources: Sequence[str] | None) -> None:
        args = (str(run.folder), list(sources) if sources is not None else None, run.settings.to_dict(),
                self.limits.max_images, self.limits.max_seconds, self.limits.threads)
        if self.mode == "process":
            ctx = multiprocessing.get_context("spawn")
            run.stop_event = ctx.Event()
            run.worker = ctx.Process(target=run_worker, args=(*args, run.stop_event), daemon=True,
                                     name=f"gan-studio-train-{run.id}")
        else:
            run.stop_event = threading.Event()
            run.worker = threading.Thread(target=run_worker, args=(*args, run.stop_event), daemon=True,
                                          name=f"gan-studio-train-{run.id}")
        run.status, run.started = "starting", time.monotonic()
        run.worker.start()
        logger.info("training run %s started (%s, session %s)", run.id, self.mode, run.session[:8])
        self._ensure_monitor()

    def stop(self, run: TrainingRun) -> None:
        """Ask ``run`` to stop after its current step (it saves its state and exports the model)."""
        if run.active and run.stop_event is not None:
            run.stop_event.set()
            run.status = "stopping"

    def resume(self, run: TrainingRun, steps: int) -> TrainingRun:
        """Continue a stopped or finished ``run`` up to ``steps`` total steps (its data is kept)."""
        if run.active:
            raise UserInputError(f"run {run.id} is still {run.status}; stop it first")
        if run.cancelled:
            raise UserInputError(f"run {run.id} was cancelled; start a new one")
        done = int(run.progress().get("step", 0))
        if self.limits.max_steps is not None:
            steps = min(steps, self.limits.max_steps)
        if steps <= done:
            raise UserInputError(f"run {run.id} is at step {done}; ask for more steps than that to resume "
                                 + (f"(this server's budget is {self.limits.max_steps} steps per run)" if self.limits.max_steps else ""))
        with self._lock:
            self._check_room(run.session)
            run.settings = replace(run.settings, steps=steps)
            run.message = ""
            run.status = "starting"
        self._launch(run, None)
        return run

    # ---- sessions ----------------------------------------------------------------------------------
    def session_ended(self, session: str) -> None:
        """``session`` closed: its runs are cancelled (and their folders deleted) after
        ``limits.grace_s`` unless reattached first."""
        now = time.monotonic()
        with self._lock:
            for run in self._runs.values():
                if run.session == session and run.orphaned_at is None:
                    run.orphaned_at = now
        self._ensure_monitor()

    def reattach(self, run_id: str | None, token: str | None, session: str) -> TrainingRun | None:
        """Give the run ``run_id`` (proved by its ``token``) to ``session`` (a reloaded page)."""
        run = self.get(run_id, token)
        if run is None or run.cancelled:
            return None
        with self._lock:
            run.session, run.orphaned_at = session, None
        return run

    def cancel(self, run: TrainingRun) -> None:
        """Stop ``run`` and delete its folder once the worker has ended."""
        run.cancelled = True
        self.stop(run)
        if not run.active:
            self._discard(run)

    def _discard(self, run: TrainingRun) -> None:
        with self._lock:
            self._runs.pop(run.id, None)
        run.status = "cancelled"
        shutil.rmtree(run.folder, ignore_errors=True)
        logger.info("training run %s cancelled and removed", run.id)

    # ---- the monitor ---------------------------------------------------------------------------------
    def _ensure_monitor(self) -> None:
        with self._lock:
            if self._monitor is None or not self._monitor.is_alive():
                self._monitor = threading.Thread(target=self._watch, name="gan-studio-train-monitor", daemon=True)
                self._monitor.start()

    def _watch(self) -> None:
        while not self._closed.wait(self.poll_s):
            self.poll()

    def poll(self) -> None:
        """Update every run from its worker and progress file; enforce budgets and grace periods."""
        with self._lock:
            runs = list(self._runs.values())
        now = time.monotonic()
        for run in runs:
            if run.orphaned_at is not None and now - run.orphaned_at > self.limits.grace_s and not run.cancelled:
                self.cancel(run)
            if not run.active:
                continue
            alive = run.worker is not None and run.worker.is_alive()
            record = run.progress()
            if alive:
                if run.status != "stopping" and record.get("status") in ACTIVE:
                    run.status = str(record["status"])
                budget = self.limits.max_seconds
                if budget is not None and now - run.started > budget + 120 and self.mode == "process":
                    logger.warning("training run %s ignored its time budget; terminating it", run.id)
                    run.worker.terminate()
                continue
            # the worker has ended
            status = record.get("status")
            if status in ("finished", "stopped", "failed"):
                run.status, run.message = str(status), str(record.get("message", ""))
            else:
                code = getattr(run.worker, "exitcode", None)
                run.status = "failed"
                run.message = (f"the training process ended unexpectedly (exit code {code}); the server is fine — "
                               f"start again, perhaps with a smaller batch or image size")
            logger.info("training run %s: %s %s", run.id, run.status, run.message)
            if run.cancelled:
                self._discard(run)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every run and the monitor (at exit)."""
        self._closed.set()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            self.stop(run)
        for run in runs:
            if run.worker is not None:
                run.worker.join(timeout)
                if self.mode == "process" and run.worker.is_alive():
                    run.worker.terminate()
