"""Linux process trees from /proc, to prove that every child of a test is gone."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(root: int) -> dict[int, str]:
    """Every live descendant of ``root``, with its start time (tells a reused pid)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
            starts[int(entry)] = fields[19]
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = starts[pid]
        todo.extend(children.get(pid, []))
    return found


def is_running(pid: int, started: str) -> bool:
    fields = _stat(pid)
    # A zombie runs no code and holds no port; only its parent's wait() is
    # missing (PID 1 in a container may not reap orphans).
    return fields is not None and fields[19] == started and fields[0] != "Z"


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def describe(pid: int) -> str:
    """What ``pid`` runs, its state (R, S, D, Z...) and its parent, for a report."""
    fields = _stat(pid)
    if fields is None:
        return "gone"
    name = command_line(pid).replace(b"\0", b" ").decode(errors="replace").strip()
    return f"{name} (state {fields[0]}, parent {fields[1]})"
