"""The real Supervisor with three cheap children, for the signal tests.

Loaded by file path so this process imports only the standard library (the
``scheduler_site`` package imports Celery, which costs 0.3 s a start, and the
signal tests start the supervisor two hundred times). Usage:
``python -S fake_supervise.py STOP_TIMEOUT``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "supervisor", ROOT / "scheduler_site" / "supervisor.py"
)
assert spec is not None
assert spec.loader is not None
supervisor = importlib.util.module_from_spec(spec)
sys.modules["supervisor"] = supervisor  # dataclasses look their module up
spec.loader.exec_module(supervisor)

GRACEFUL = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "time.sleep(60)\n"
)
# Like gunicorn's master and Celery's worker: it has a child of its own and
# passes SIGTERM on to it.
PARENT = "trap 'kill $child; exit 0' TERM; sleep 60 & child=$!; wait \"$child\""

children = [
    supervisor.Child("sleeper", ["sleep", "60"]),
    supervisor.Child("graceful", [sys.executable, "-S", "-c", GRACEFUL]),
    supervisor.Child("parent", ["sh", "-c", PARENT]),
]
sys.exit(supervisor.Supervisor(children, stop_timeout=float(sys.argv[1])).run())
