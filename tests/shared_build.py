"""Build an expensive fixture once per test run, shared by the xdist workers.

Under xdist the first worker that needs a build makes it in the run's shared temporary folder while the
others wait on a file lock; every worker then reads the built folder (copying what it will change).
Without xdist the build is made once in the session's own temporary folder.

A session fixture defined in a support module and imported by name into several test modules is a separate
fixture in each of them, so pytest would run it once per module: building through :func:`built_once` makes
it once per run whichever module asks first.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics import store

#: Set by pytest-xdist for every worker of one run (absent without xdist).
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID")
#: Builds this process has made or found, by name: the folder and the facts.
_BUILT: dict[str, tuple[Path, dict]] = {}


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str,
               build: Callable[[Path], dict]) -> tuple[Path, dict]:
    """The folder of the build called ``name`` and the JSON-able facts ``build`` returned for it.

    ``build(folder)`` writes into an empty ``folder`` and returns facts about what it built (paths
    relative to the folder, passwords, counts); it runs once per test run.
    """
    if name not in _BUILT:
        _BUILT[name] = _build_or_find(tmp_path_factory, name, build)
    return _BUILT[name]


def _build_or_find(tmp_path_factory: pytest.TempPathFactory, name: str,
                   build: Callable[[Path], dict]) -> tuple[Path, dict]:
    if not RUN_ID:
        folder = tmp_path_factory.mktemp(name)
        return folder, build(folder)
    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    shared.mkdir(exist_ok=True)
    done = shared / "built.json"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            (shared / "build").mkdir(exist_ok=True)
            done.write_text(json.dumps(build(shared / "build")))
    return shared / "build", json.loads(done.read_text())


def law_support(name: str):
    """The law-school example's fixtures (``tests/modelspec/law_support.py``), loaded from their file as
    module ``name`` (a test folder outside ``tests/modelspec`` cannot import it by name)."""
    path = Path(__file__).resolve().parent / "modelspec" / "law_support.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Each process's own copy of a store built once per run, by name.
_COPIES: dict[str, Path] = {}


def store_built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object],
                     filename: str = "vigil.duckdb") -> Path:
    """A store built once per test run by ``build(path)``, as this process's own copy.

    The copy is made once per process: a test may read it directly (DuckDB opens a store file for one process
    at a time, so workers reading one shared file would wait on each other) and copies it before writing.
    """
    if name not in _COPIES:
        def build_into(folder: Path) -> dict:
            build(folder / filename)
            return {}

        folder, _ = built_once(tmp_path_factory, name, build_into)
        _COPIES[name] = store.copy_store(folder / filename, tmp_path_factory.mktemp(name) / "store")
    return _COPIES[name]
