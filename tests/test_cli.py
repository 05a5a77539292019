"""The ``vigil`` command line as a pipeline stage: a reader that stops early ends it quietly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """``vigil drift ... | head -c 10``: exit code 141 (as SIGPIPE), and no error message on stderr."""
    rng = np.random.default_rng(1)
    # Four columns with 20,000-character names: ~80 KB of JSON, more than a pipe holds (64 KB), for the price of a
    # four-column drift (400 columns cost 4 CPU-s for the same overflow).
    frame = pd.DataFrame({f"c{i}" + "x" * 20_000: rng.normal(size=50) for i in range(4)})
    frame.to_parquet(tmp_path / "a.parquet")
    frame.to_parquet(tmp_path / "b.parquet")
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "drift", str(tmp_path / "a.parquet"),
                                str(tmp_path / "b.parquet"), "--format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(10) == b'[\n  {\n    '
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141 and stderr == ""
