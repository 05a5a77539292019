"""What the benchmark scripts share: running a measurement in a fresh Python process.

A benchmark measures in a child process of its own so that its imports, caches and peak resident
memory (``ru_maxrss``) are its own. The child is Python code run with ``python -c`` from the
repository's root; it prints its figures as one JSON object on its last line of output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class ChildFailed(SystemExit):
    """A benchmark's child process failed; the message ends with the tail of what it wrote to stderr."""


def run_child(code: str, *args: object, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` with ``args`` in a fresh Python process from the repository's root; return its figures.

    Parameters
    ----------
    code : str
        Python source run with ``python -c``; it reads its arguments from ``sys.argv[1:]`` and prints
        a JSON object on its last line starting with ``{`` (other lines may come before it).
    *args
        The child's arguments (converted to text).
    env : dict, optional
        Extra environment variables; the repository is always on ``PYTHONPATH``.

    Returns
    -------
    dict
        The JSON object the child printed last.

    Raises
    ------
    ChildFailed
        When the child exits with a non-zero status or prints no JSON object (a ``SystemExit``: a
        script that does not catch it stops with the child's error).
    """
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=REPO,
                          env=environment)
    printed = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not printed:
        said = (done.stderr.strip() or done.stdout.strip())[-3000:]
        raise ChildFailed(f"the benchmark's child process failed (exit {done.returncode}):\n{said}")
    return json.loads(printed[-1])
