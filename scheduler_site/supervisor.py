"""A small process supervisor: web + worker + beat as one command on a laptop.

Why not honcho or supervisord: we need these behaviours together and neither
gives them with one pip install and no config file: children stopped in order
(beat first, so it sends nothing to a worker that is going away) with Celery's
warm shutdown, a restart with back-off for a child that dies, reported on the
console, giving up loudly when a child keeps dying, and children that never
outlive the supervisor (honcho stops everything when one process exits, and
neither makes children follow a supervisor that was killed).

Signals: the handler only records the signal and wakes the loop through
``signal.set_wakeup_fd``. It must never take a lock: a handler runs between two
bytecodes of the main thread, so a handler that calls ``Event.set()`` while the
main thread is inside ``Event.wait()``/``set()`` (a doubled SIGTERM, a double
Ctrl-C) deadlocks on the event's own lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Run in each child before it becomes the real program: ask the kernel to send
# SIGTERM when the supervisor dies (even by SIGKILL), then exec. Why a separate
# exec rather than subprocess's preexec_fn: preexec_fn runs Python between fork
# and exec, which the docs call unsafe while other threads (our output pumps)
# hold locks. The setting survives exec. The getppid check closes the race of a
# supervisor dying before the prctl call.
# prctl is Linux's; elsewhere (a Mac laptop) children lack this guard only.
_GUARD = """\
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
try:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
except AttributeError:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
os.execvp(sys.argv[2], sys.argv[2:])
"""


class AlreadyRunning(Exception):
    """Another supervisor holds the lock for this data folder."""


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
        ready_probe: Callable[[], bool] | None = None,
        ready_lines: Sequence[str] = (),
    ) -> None:
        self.children = list(children)
        # Said once, framed, when ready_probe first answers True: the lines that
        # matter (where to log in) come after the children's start-up banners.
        self.ready_probe = ready_probe
        self.ready_lines = list(ready_lines)
        self.out = out or sys.stdout
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.stop_timeout = stop_timeout
        # A plain attribute, written by the signal handler: no lock anywhere.
        self.stop_reason: str | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._write_lock = threading.Lock()
        self._width = max(len(child.name) for child in self.children)

    def say(self, name: str, line: str) -> None:
        # The terminal may be gone (SIGHUP): the stop must go on regardless.
        with self._write_lock, contextlib.suppress(OSError, ValueError):
            self.out.write(f"{name.ljust(self._width)} | {line.rstrip()}\n")
            self.out.flush()

    def request_stop(self, reason: str = "stop requested") -> None:
        """Safe from any thread and from a signal handler: a flag and a pipe byte."""
        if self.stop_reason is None:
            self.stop_reason = reason
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _on_signal(self, signum: int, _frame: object) -> None:
        # The byte is already written by set_wakeup_fd; only record why.
        if self.stop_reason is None:
            self.stop_reason = signal.Signals(signum).name

    def run(self, *, install_signals: bool = True) -> int:
        """Supervise until a stop signal (0) or a child that keeps dying (1)."""
        if install_signals:
            signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._on_signal)
        code = 0
        for child in self.children:
            if self.stop_reason is None:
                self._start(child)
        while not self._pause(0.5):
            if not self._watch():
                code = 1
                break
            self._announce_when_ready()
        if self.stop_reason is not None:
            self.say("supervisor", f"{self.stop_reason}: stopping everything")
        self.stop_all()
        return code

    def _announce_when_ready(self) -> None:
        if self.ready_probe is None or not self.ready_probe():
            return
        self.ready_probe = None
        rule = "=" * 72
        for line in [rule, *self.ready_lines, rule]:
            self.say("supervisor", line)

    def _pause(self, seconds: float) -> bool:
        """Sleep until ``seconds`` pass or a stop is requested; True when stopping."""
        deadline = time.monotonic() + seconds
        while self.stop_reason is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([self._wake_read], [], [], left)
            if readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_read, 512)
        return True

    def _start(self, child: Child) -> None:
        # Own session: Ctrl-C and a group-wide SIGTERM reach only us, and we stop
        # children in order. Always called from the main thread: the kernel's
        # "parent died" signal follows the thread that forked.
        child.process = subprocess.Popen(
            [sys.executable, "-S", "-c", _GUARD, str(os.getpid()), *child.argv],
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
        with contextlib.suppress(OSError, ValueError):
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
            if self._pause(min(2 ** len(child.restarts) / 4, 5)):
                return True  # a stop arrived during the back-off
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
        # Whatever a child left behind in its group (a pool process that lost
        # its parent) goes too.
        for child in self.children:
            _signal_group(child, signal.SIGKILL)


def _alive(child: Child) -> bool:
    return child.process is not None and child.process.poll() is None


def _signal_group(child: Child, signum: int) -> None:
    if child.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)


def run_lock(path: Path) -> int:
    """Hold an exclusive lock on ``path`` for this process's life; return its fd.

    The kernel drops the lock when the process ends however it ends (even
    SIGKILL), so a stale lock file never blocks the next start.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunning(holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


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
