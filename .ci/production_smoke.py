"""Run docker-compose.yml's commands on this machine and prove the scheduler works.

Run by .ci/production-smoke with the fresh production virtualenv's Python, so it
imports only what requirements.txt installs. Takes the work folder as argument.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg2
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(sys.argv[1])
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("SMOKE_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = f"production_smoke_{os.getpid()}"
DEADLINE = time.monotonic() + 150  # the whole run, start-up to a succeeded run


def say(message: str) -> None:
    print(f"production-smoke: {message}", flush=True)  # noqa: T201


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose_services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def local(argv: list[str], port: int) -> list[str]:
    """A compose command for this machine: the venv's programs, our port."""
    program = BIN / argv[0]
    first = str(program) if program.exists() else argv[0]
    rest = [a.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for a in argv[1:]]
    return [first, *rest]


def until(what: str, check: Any, logs: Path) -> Any:
    while time.monotonic() < DEADLINE:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    for log in sorted(logs.glob("*.log")):
        say(f"--- {log.name} (last lines)")
        print(log.read_text()[-4000:])  # noqa: T201
    raise SystemExit(f"production-smoke: FAILED: {what} within the time limit")


def readyz(port: int) -> bool:
    try:
        # Any Host header: a production ALLOWED_HOSTS must not refuse probes.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/readyz", headers={"Host": "10.1.2.3"}
        )
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def healthcheck(service: dict[str, Any], env: dict[str, str], port: int) -> None:
    test = service["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        argv = ["sh", "-c", test[1].replace("$$", "$")]
        argv[2] = argv[2].replace("celery ", f"{BIN / 'celery'} ", 1)
    else:
        argv = local(test[1:], port)
    argv = [a.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for a in argv]
    result = subprocess.run(  # noqa: S603
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise SystemExit(
            f"production-smoke: FAILED: healthcheck {shlex.join(argv)} exited "
            f"{result.returncode}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        )


def main() -> None:
    services = compose_services()
    port, redis_port = free_port(), free_port()
    logs = WORK / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    redis = subprocess.Popen(  # noqa: S603
        [shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=(logs / "redis.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    admin = psycopg2.connect(f"{POSTGRES}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{DATABASE}"')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "scheduler.example.com",
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
        "SCHEDULER_VAR_DIR": str(WORK / "var"),
        "STATIC_ROOT": str(WORK / "static"),
        "HOSTNAME": socket.gethostname(),  # what compose's worker check pings
    }
    try:
        for step in (
            ["python", "manage.py", "collectstatic", "--noinput"],  # as the image
            services["migrate"]["command"],
        ):
            subprocess.run(  # noqa: S603
                local(step, port), cwd=ROOT, env=env, check=True,
                stdout=subprocess.DEVNULL, timeout=120,
            )  # fmt: skip
        say("collectstatic and migrate done on a fresh PostgreSQL database")
        for name in ("web", "worker", "beat"):
            argv = local(services[name]["command"], port)
            log = (logs / f"{name}.log").open("w")
            processes.append(
                subprocess.Popen(  # noqa: S603
                    argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        until("/readyz answered 200", lambda: readyz(port), logs)
        say("/readyz answers 200 for any Host")
        schedule = WORK / "schedule.yaml"
        schedule.write_text(
            "- name: smoke.runs-report\n  kind: interval\n  interval_seconds: 2\n"
            "  target: reports.runs_csv\n  input: {hours: 1}\n"
        )
        subprocess.run(  # noqa: S603
            local(["python", "manage.py", "import_schedules", str(schedule)], port),
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        until(
            "a scheduled run succeeded with its result file", lambda: run_ok(env), logs
        )
        say("a scheduled run succeeded and its result file is in the media folder")
        for name in ("web", "worker", "beat"):
            healthcheck(services[name], env, port)
        say("the compose healthchecks of web, worker and beat pass")
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        redis.terminate()
        redis.wait(timeout=10)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.close()


def run_ok(env: dict[str, str]) -> bool:
    """Read the run ledger of the fresh database, as the operator would."""
    connection = psycopg2.connect(env["DATABASE_URL"])
    with contextlib.closing(connection), connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, result_file FROM jobruns_jobrun "
            "WHERE schedule_name = %s AND status = 'succeeded' LIMIT 1",
            ["smoke.runs-report"],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    return (Path(env["SCHEDULER_VAR_DIR"]) / "media" / row[1]).is_file()


if __name__ == "__main__":
    main()
