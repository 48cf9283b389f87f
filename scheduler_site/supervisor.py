"""A small process supervisor: web + worker + beat as one command on a laptop.

Why not honcho or supervisord: we need three behaviours together that neither
gives out of the box with one pip install and no config file: children in their
own process groups so Ctrl-C stops them in order (beat first, so it sends
nothing to a worker that is going away), a restart with back-off for a child
that dies, reported on the console, and giving up loudly when a child
keeps dying instead of hiding it in a restart loop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[str] | None = None
    restarts: deque[float] = field(default_factory=deque)


class Supervisor:
    """Start children, prefix their output, restart the dead, stop all on a signal."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        out: IO[str] | None = None,
        env: dict[str, str] | None = None,
        max_restarts: int = 5,
        restart_window: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.children = list(children)
        self.out = out or sys.stdout
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.stop_timeout = stop_timeout
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._width = max(len(child.name) for child in self.children)

    def say(self, name: str, line: str) -> None:
        with self._write_lock:
            self.out.write(f"{name.ljust(self._width)} | {line.rstrip()}\n")
            self.out.flush()

    def request_stop(self, *_: object) -> None:
        self._stopping.set()

    def run(self, *, install_signals: bool = True) -> int:
        """Supervise until a stop signal (0) or a child that keeps dying (1)."""
        if install_signals:
            signal.signal(signal.SIGINT, self.request_stop)
            signal.signal(signal.SIGTERM, self.request_stop)
        for child in self.children:
            self._start(child)
        code = 0
        while not self._stopping.wait(0.5):
            if not self._watch():
                code = 1
                break
        self.stop_all()
        return code

    def _start(self, child: Child) -> None:
        # Own session: Ctrl-C reaches only us, and we stop children in order.
        child.process = subprocess.Popen(
            list(child.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=self.env,
            start_new_session=True,
        )
        self.say("supervisor", f"started {child.name} (pid {child.process.pid})")
        threading.Thread(
            target=self._pump, args=(child.name, child.process), daemon=True
        ).start()

    def _pump(self, name: str, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.say(name, line)

    def _watch(self) -> bool:
        """Restart dead children; False when one died too often to keep trying."""
        now = time.monotonic()
        for child in self.children:
            assert child.process is not None
            code = child.process.poll()
            if code is None:
                continue
            while child.restarts and now - child.restarts[0] > self.restart_window:
                child.restarts.popleft()
            if len(child.restarts) >= self.max_restarts:
                self.say(
                    "supervisor",
                    f"{child.name} exited with code {code} and died "
                    f"{len(child.restarts)} times in {self.restart_window:.0f} s; "
                    "stopping everything",
                )
                return False
            child.restarts.append(now)
            self.say(
                "supervisor", f"{child.name} exited with code {code}; restarting it"
            )
            time.sleep(min(2 ** len(child.restarts) / 4, 5))
            self._start(child)
        return True

    def stop_all(self) -> None:
        """SIGTERM in reverse start order, then SIGKILL what outlives the timeout.

        SIGTERM goes to each child's main process only: Celery's worker then
        finishes its running tasks (warm shutdown) and gunicorn its requests.
        Signalling the whole group would kill the pool processes mid-task.
        """
        running = [c for c in reversed(self.children) if _alive(c)]
        for child in running:
            self.say("supervisor", f"stopping {child.name}")
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("supervisor", f"{child.name} did not stop in time; killing it")
                _signal_group(child, signal.SIGKILL)
                child.process.wait()
            self.say("supervisor", f"{child.name} stopped")


def _alive(child: Child) -> bool:
    return child.process is not None and child.process.poll() is None


def _signal_group(child: Child, signum: int) -> None:
    assert child.process is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)


def scheduler_children(
    *, bind: str, concurrency: int, python: str = sys.executable
) -> list[Child]:
    """The processes the scheduler needs: web, worker and beat (the dispatcher)."""
    return [
        Child(
            "web",
            [
                python, "-m", "gunicorn", "scheduler_site.wsgi",
                "--bind", bind, "--workers", "2", "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "10",
            ],
        ),
        Child(
            "worker",
            [
                python, "-m", "celery", "-A", "scheduler_site", "worker",
                "-Q", "runs,executions", "--loglevel", "INFO",
                "--concurrency", str(concurrency), "--hostname", "worker@%h",
            ],
        ),
        Child(
            "beat",
            [
                python, "-m", "celery", "-A", "scheduler_site", "beat",
                "--loglevel", "INFO",
            ],
        ),
    ]  # fmt: skip
