"""The query kernel: a Window is validated where it is made and builds its own parameterised filter;
store.run runs one unit of work on a path or a connection; the clock can be pinned."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from analytics import clock, store
from analytics.cli import main
from analytics.errors import InvalidInputError, NotFoundError
from analytics.window import Window, previous_window

START, END = datetime(2026, 5, 1), datetime(2026, 6, 1)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(start=END, end=START), "choose a start before the end"),
    (dict(start=START, end=START), "choose a start before the end"),
    (dict(start=datetime(2026, 5, 1, tzinfo=timezone(timedelta(hours=2)))), "not in UTC.*give it in UTC"),
    (dict(end=date(2026, 5, 1)), "is a day .*give a date and time"),
    (dict(start="2026-05-01"), "is str .*give a date and time"),
    (dict(segment="region"), "choose a value of the segment 'region'"),
    (dict(segment_value="north"), "needs its segment column"),
    (dict(version=2), "version must be text"),
])
def test_a_bad_window_is_refused_with_what_to_do(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        Window(**kwargs)


def test_a_window_is_normalised_once_and_builds_its_filter(toy_schema):
    """An aware UTC time is made naive, empty names mean "all", values are text; the filter binds every value."""
    window = Window(START.replace(tzinfo=timezone.utc), END, version="", segment="region", segment_value=3)
    assert window == Window(START, END, None, "region", "3")
    assert window.start.tzinfo is None and window.filtered
    where = window.where(toy_schema, alias="q")
    assert where.sql == 'q.predicted_at >= ? AND q.predicted_at < ? AND CAST(q."region" AS VARCHAR) = ?'
    assert where.params == [START, END, "3"]
    assert Window().where(toy_schema).sql == "TRUE" and not Window().filtered
    with pytest.raises(InvalidInputError, match="'gender' is not a segment column.*segment columns: region"):
        Window(segment="gender", segment_value="f").where(toy_schema)


def test_previous_window_keeps_the_filters():
    """The previous window has the same length and ends where the window starts; open windows have none."""
    now = datetime(2026, 6, 30, 12)
    s, e = datetime(2026, 6, 1), datetime(2026, 6, 11)
    assert previous_window(s, e, now) == (datetime(2026, 5, 22), s)
    assert previous_window(now - timedelta(days=7), None, now) == (now - timedelta(days=14), now - timedelta(days=7))
    assert previous_window(None, e, now) is None
    assert previous_window(e, s, now) is None
    window = Window(START, END, "v1", "region", "north")
    assert window.previous(END) == Window(START - (END - START), START, "v1", "region", "north")
    assert Window(START, None).previous(END) == Window(START - (END - START), START)
    assert Window(None, END).previous(END) is None


def test_of_model_checks_the_registry_and_run_takes_a_path_or_a_connection(toy, capsys):
    """Made for a model, the window's version must be registered and its segment declared."""
    assert Window.of_model(toy.db, toy.name, version="v2", segment="region", segment_value="north").version == "v2"
    with pytest.raises(InvalidInputError, match="version 'v9' is not registered for 'toy-model'; its versions: v1, v2"):
        Window.of_model(toy.db, toy.name, version="v9")
    with pytest.raises(InvalidInputError, match="'AGE' is not a segment column.*segment columns: region"):
        Window.of_model(toy.db, toy.name, segment="AGE", segment_value="30")
    with pytest.raises(NotFoundError):
        Window.of_model(toy.db, "no-such-model")
    # the drift command makes its window this way: an unknown version is named with the model's versions
    drift = ["--db", str(toy.db), "drift", "--model", toy.name, "--start", "2025-03-01", "--end", "2025-03-02"]
    assert main([*drift, "--version", "v9"]) == 1
    assert "version 'v9' is not registered for 'toy-model'; its versions: v1, v2" in capsys.readouterr().err
    assert main([*drift, "--segment", "AGE=30"]) == 1
    assert "'AGE' is not a segment column" in capsys.readouterr().err
    # store.run: on a path the store is opened for the unit of work; on a connection the work runs on it
    count = "SELECT count(*) FROM model_versions"
    assert store.run(toy.db, lambda con: con.execute(count).fetchone()[0]) == 2
    with duckdb.connect() as con:
        assert store.run(con, lambda c: c) is con


def test_the_clock_can_be_pinned():
    at = datetime(2026, 1, 2, 3, 4, 5)
    with clock.pinned(at.replace(tzinfo=timezone.utc)) as pinned:
        assert pinned == clock.utc_now() == at
    now = clock.utc_now()
    assert now.tzinfo is None and abs(now - datetime.now(timezone.utc).replace(tzinfo=None)) < timedelta(seconds=5)


def test_a_reader_refuses_the_part_of_a_window_it_cannot_apply():
    """Fairness reads every row of a version, a comparison names its versions: a filter they would ignore is
    refused with what to drop; all_rows() keeps the span and the version."""
    from analytics import business, deployments, fairness

    window = Window(START, END, "v1", "region", "north")
    assert window.all_rows() == Window(START, END, "v1")
    assert Window(START, END, "v1").require_no_filter("x", version_allowed=True) == Window(START, END, "v1")
    with pytest.raises(InvalidInputError, match=r"the fairness assessment reads every row.*\(region = north\)"):
        fairness.assess(None, "any", window=window)
    with pytest.raises(InvalidInputError, match=r"the threshold what-if reads every row"):
        business.threshold_whatif(None, "any", window=window)
    with pytest.raises(InvalidInputError, match=r"the deployment comparison names its versions itself.*\(v1\)"):
        deployments.compare(None, "any", baseline="v1", candidate="v2", window=window.all_rows())
