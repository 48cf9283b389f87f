from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from scheduler_site.supervisor import Child, Supervisor

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_supervise_runs_web_worker_and_beat_until_ctrl_c(tmp_path: Path) -> None:
    """The laptop path end to end: SQLite, filesystem broker, three real processes."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}
    }
    env["SCHEDULER_VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip
    log_path = tmp_path / "supervise.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*manage, "supervise", "--bind", f"127.0.0.1:{port}", "--concurrency", "1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        status, body = 0, dict[str, object]()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, body = _get_json(f"http://127.0.0.1:{port}/readyz")
            except (OSError, ValueError):
                status = 0
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, (body, log_path.read_text()[-3000:])
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    for name in ("web", "worker", "beat"):
        assert f"{name} stopped" in output
    # Each child shut down on SIGTERM by itself (Celery's warm shutdown).
    assert "did not stop in time" not in output
    assert "exited with 'signal 15" not in output
