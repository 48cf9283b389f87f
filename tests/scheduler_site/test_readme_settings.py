"""The README's configuration table lists every variable the code reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venv", "tests", "var", "bench", ".ci", "node_modules"}
READERS = re.compile(r"^env_|_from_env$")


def _variables_read() -> set[str]:
    """First arguments of env_*(...), *_from_env(...) and os.environ.get(...)."""
    names: set[str] = set()
    for path in ROOT.rglob("*.py"):
        if SKIPPED.intersection(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            first, func = node.args[0], node.func
            name = str(getattr(func, "id", None) or getattr(func, "attr", ""))
            reads = READERS.search(name) or (
                name == "get" and "environ" in ast.unparse(func)
            )
            if (
                reads
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ) and re.fullmatch(r"[A-Z][A-Z0-9_]+", first.value):
                names.add(first.value)
    return names


def test_every_setting_the_code_reads_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") : readme.index("## Health")]
    read = _variables_read()
    assert {"DATABASE_URL", "SECURE_COOKIES", "JOBRUN_HEARTBEAT_SECONDS"} <= read
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert missing == [], f"add these to the README's configuration table: {missing}"
