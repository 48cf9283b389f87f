from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from scheduler_site.supervisor import Child, Supervisor
from tests.support.processes import command_line, is_running, process_tree
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def _sleeper(name: str, seconds: float = 60) -> Child:
    return Child(name, [sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_a_child_that_dies_is_reported_and_restarted() -> None:
    out = io.StringIO()
    flaky = Child(
        "flaky", [sys.executable, "-c", "print('hello'); raise SystemExit(3)"]
    )
    supervisor = Supervisor([flaky, _sleeper("steady")], out=out, max_restarts=2)

    code = supervisor.run(install_signals=False)

    log = out.getvalue()
    assert code == 1
    assert log.count("flaky exited with code 3; restarting it") == 2
    assert "died 2 times in 60 s; stopping everything" in log
    assert "flaky      | hello" in log or "flaky  | hello" in log
    assert "steady stopped" in log


def test_a_stop_request_stops_every_child_in_reverse_order() -> None:
    out = io.StringIO()
    first, second = _sleeper("first"), _sleeper("second")
    supervisor = Supervisor([first, second], out=out)
    threading.Timer(1.0, supervisor.request_stop).start()

    assert supervisor.run(install_signals=False) == 0

    log = out.getvalue()
    assert log.index("stopping second") < log.index("stopping first")
    assert first.process is not None
    assert first.process.returncode is not None
    assert second.process is not None
    assert second.process.returncode is not None


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    out = io.StringIO()
    stubborn = Child(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
    )
    supervisor = Supervisor([stubborn], out=out, stop_timeout=1.0)
    threading.Timer(1.5, supervisor.request_stop).start()

    supervisor.run(install_signals=False)

    assert "stubborn did not stop in time; killing it" in out.getvalue()
    assert stubborn.process is not None
    assert stubborn.process.returncode == -signal.SIGKILL


def _get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _laptop_env(tmp_path: Path) -> dict[str, str]:
    """The laptop defaults: SQLite and the filesystem broker under tmp_path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECURE_COOKIES"}
    }
    env["SCHEDULER_VAR_DIR"] = str(tmp_path)
    return env


def _wait_ready(port: int, log_path: Path) -> None:
    status, body = 0, dict[str, object]()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, body = _get_json(f"http://127.0.0.1:{port}/readyz")
        except (OSError, ValueError):
            status = 0
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError((body, log_path.read_text()[-3000:]))


def _assert_tree_gone(tree: dict[int, str], seconds: float, log_path: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [pid for pid, start in tree.items() if is_running(pid, start)]
        if not left:
            return
        time.sleep(0.2)
    names = [command_line(pid)[:80] for pid in left]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    raise AssertionError((names, log_path.read_text()[-3000:]))


def test_make_run_serves_then_stops_everything_on_sigterm_to_its_group(
    tmp_path: Path,
) -> None:
    """`make run` end to end: SQLite, filesystem broker, three real processes.

    While it runs, a second start on the same data folder and one on its port
    are refused at once. SIGTERM to make's whole group (what `timeout` and CI
    runners send) stops every process, each by itself (Celery's warm shutdown).
    """
    port = free_port()
    env = _laptop_env(tmp_path)
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        make = subprocess.Popen(
            # -o: the shared virtualenv is installed already; do not reinstall.
            ["make", "-s", "-o", ".venv/.installed-run", "run", f"PORT={port}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(port, log_path)
        second = subprocess.run(
            [sys.executable, "manage.py", "supervise", "--bind", "127.0.0.1:1"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        other_folder = {**env, "SCHEDULER_VAR_DIR": str(tmp_path / "other")}
        busy = subprocess.run(
            [sys.executable, "manage.py", "supervise", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT, env=other_folder, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        # The password comes last, framed, after every banner.
        deadline = time.monotonic() + 30
        while "The scheduler is up" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        tree = process_tree(make.pid)
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=60)
    _assert_tree_gone(tree, 15, log_path)
    output = log_path.read_text()
    assert second.returncode == 1
    assert "already running on this data folder" in second.stderr
    assert busy.returncode == 1
    assert f"127.0.0.1:{port} is in use by another program" in busy.stderr
    tail = output[output.index("The scheduler is up") :]
    assert "Created admin account: user name 'admin', password " in tail
    assert "SIGTERM: stopping everything" in output
    for name in ("web", "worker", "beat"):
        assert f"{name} stopped" in output
    assert "did not stop in time" not in output
    assert "exited with 'signal 15" not in output
    # Every descendant at full start: gunicorn's workers, Celery's pool, beat.
    assert len(tree) >= 7, tree


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    port = free_port()
    env = _laptop_env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    log_path = tmp_path / "supervise.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "supervise", "--bind", f"127.0.0.1:{port}",
             "--concurrency", "1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_ready(port, log_path)
        tree = process_tree(process.pid)
    finally:
        process.kill()
        process.wait(timeout=10)
    _assert_tree_gone(tree, 15, log_path)
