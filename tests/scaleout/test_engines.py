"""Starting an engine: the local Spark session's memory and the options that only Spark takes."""

from __future__ import annotations

import pytest

from analytics.cli import main
from analytics.errors import InvalidInputError
from analytics.scaleout import SparkOptions, open_engine
from analytics.scaleout._engines import local_driver_memory


def test_a_local_spark_session_gets_a_quarter_of_the_machine_between_1_and_8_gb():
    """Spark's own 1 GB default ran out at 10 M rows: a local session's heap follows the machine's memory."""
    gib = 2**30
    assert [local_driver_memory(n * gib) for n in (2, 4, 7, 24, 32, 64)] == ["1g", "1g", "1g", "6g", "8g", "8g"]
    assert local_driver_memory() in {f"{n}g" for n in range(1, 9)}


def test_driver_memory_is_refused_when_it_is_not_a_size_or_not_for_spark(tmp_path, capsys):
    """``--driver-memory`` takes a Spark size, and only with the Spark engine."""
    with pytest.raises(SystemExit):
        main(["--db", str(tmp_path / "x.duckdb"), "summarise", "m", "--engine", "spark", "--driver-memory", "lots"])
    assert "not a memory size" in capsys.readouterr().err
    with pytest.raises(InvalidInputError, match="--driver-memory is Spark.s"):
        open_engine("duckdb", SparkOptions(driver_memory="4g"))
