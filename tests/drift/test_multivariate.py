"""Multivariate drift read from the window samples kept per version and day gives the log's result.

The summaries engine keeps each UTC day's first rows by the sample's seeded hash
(``multivariate_sample``, :data:`analytics.drift._multivariate.SAMPLES`); a window's sample is taken
from them, its partial edge days and its days that kept too few rows from the log. The classifier's
AUC itself is pinned to scikit-learn in ``tests/drift/test_store_drift.py``.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from analytics import drift, registry, store, summaries
from analytics.demo import _credit as credit
from analytics.drift import _multivariate
from analytics.ingest import ingest
from analytics.registry import get_model
from analytics.roles import Actor
from analytics.window import Window

MODEL = "credit-default"
ADMIN = Actor("cli:tests", "system")


@pytest.fixture(scope="module")
def kept(demo_store, tmp_path_factory):
    """A copy of the demo whose days keep 100 sample rows each (of about 330), so that a window of a few
    days must read some of its days from the log."""
    db = store.copy_store(demo_store.db, tmp_path_factory.mktemp("multivariate") / "store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_multivariate, "DAY_SAMPLE_ROWS", 100)
        done = summaries.refresh_store(db, MODEL, names=(_multivariate.SAMPLES.name,))
    assert done.of(MODEL)["multivariate"] >= credit.DAYS
    return db, demo_store.end - timedelta(days=credit.DAYS)


def _samples(db, window: Window, rows: int, model: str = MODEL) -> tuple[list, list]:
    """The window's sample from the kept rows and from the log alone."""
    def work(con):
        info = get_model(con, model)
        used = _multivariate._used_columns(info, {})
        part = window if window.version else Window(window.start, window.end, "v1")
        return [_multivariate._window_sample(con, info, part, used, _multivariate.SEED, rows, stored)[0]
                for stored in (True, False)]
    return store.read(work, db)


@pytest.mark.parametrize("first, days, hours, rows", [(30, 60, 5, 800), (70, 3, 0, 800), (100, 20, 0, 50)])
def test_the_kept_samples_are_the_logs_sample(kept, monkeypatch, first, days, hours, rows):
    """The same rows in the same order as reading the log; whole days come from the kept rows (only the
    partial edges, and days that kept too few rows for the window, from the log)."""
    db, start = kept
    monkeypatch.setattr(_multivariate, "DAY_SAMPLE_ROWS", 100)
    read = []
    real = _multivariate._log_sample

    def counted(con, info, window, *args):
        read.append((window.start, window.end))
        return real(con, info, window, *args)

    monkeypatch.setattr(_multivariate, "_log_sample", counted)
    window = Window(start=start + timedelta(days=first, hours=hours), end=start + timedelta(days=first + days, hours=hours))
    from_kept, from_log = _samples(db, window, rows)
    assert from_kept == from_log and len(from_kept) == rows
    read = read[:-1]  # the log path's own read
    if hours:  # a 60-day window of 800 rows: only its two partial days are read from the log
        assert sorted(read) == [(window.start, window.start + timedelta(hours=24 - hours)),
                                (window.end - timedelta(hours=hours), window.end)]
    elif days == 3:  # 3 days of 100 kept rows cannot give 800: the days are read again from the log
        assert read == [(window.start, window.end)]
    else:  # 50 rows of 20 days: the kept rows hold them
        assert not read


def test_the_kept_samples_give_the_logs_result(kept, monkeypatch):
    """Against an earlier window too: the same samples, hence the same folds' AUCs and reconstruction error."""
    db, start = kept
    monkeypatch.setattr(_multivariate, "DAY_SAMPLE_ROWS", 100)
    window = Window(start=start + timedelta(days=60, hours=5), end=start + timedelta(days=90, hours=5))
    base = dict(baseline=window.between(start, start + timedelta(days=30)), sample_rows=400)
    from_log = drift.multivariate_drift(db, MODEL, window=window, use_summaries=False, **base)
    from_kept = drift.multivariate_drift(db, MODEL, window=window, **base)
    assert from_kept == from_log and from_kept.unsummarised_days == () and from_kept.n_current_sample == 400


def test_a_stale_key_or_a_segment_reads_the_log(kept, monkeypatch):
    """Samples kept with other settings (here 100 rows a day, read with the default 1,000) are not used and
    the days are named as read from the log; a segment filter always reads the log."""
    db, start = kept
    window = Window(start=start + timedelta(days=40), end=start + timedelta(days=50))
    result = drift.multivariate_drift(db, MODEL, window=window, sample_rows=100)
    assert len(result.unsummarised_days) == 10 and result.summary_note.startswith("10 day(s) of this window")
    monkeypatch.setattr(_multivariate, "DAY_SAMPLE_ROWS", 100)
    assert drift.multivariate_drift(db, MODEL, window=window, sample_rows=100).unsummarised_days == ()
    segment = Window(start=window.start, end=window.end, version="v1", segment="region", segment_value="Taipei")
    from_kept, from_log = _samples(db, segment, 100)
    assert from_kept == from_log


def test_a_declared_models_kept_samples_are_its_logs(toy, monkeypatch):
    """The toy model, declared from a LogSchema (numbers, text, a boolean): its days keep their first rows
    at a refresh, and its windows' samples and results read from them are the log's."""
    monkeypatch.setattr(_multivariate, "DAY_SAMPLE_ROWS", 100)
    reference = toy.predictions(200)[["AGE", "income", "region", "is_member", "gender", "score", "decision"]]
    reference["label"] = np.arange(200) % 2
    store.write(lambda con: registry.load_reference(con, ADMIN, toy.name, "v1", reference), toy.db)
    rows = toy.predictions(3000)  # 50 hours, v1 and v2 in turn
    assert ingest(toy.name, rows, db=toy.db, actor=ADMIN).status == "committed"
    done = summaries.refresh_store(toy.db, toy.name, names=(_multivariate.SAMPLES.name,), scope="v1")
    assert done.of(toy.name) == {"multivariate": 3}
    start = rows["predicted_at"].min().normalize().to_pydatetime()
    window = Window(start=start, end=start + timedelta(days=2), version="v1")
    from_kept, from_log = _samples(toy.db, window, 300, toy.name)  # more than the two days kept: read again
    assert from_kept == from_log and len(from_kept) == 300
    results = [drift.multivariate_drift(toy.db, toy.name, window=window, sample_rows=100, use_summaries=use)
               for use in (True, False)]
    assert results[0] == results[1] and results[0].n_current_sample == 100 and results[0].unsummarised_days == ()
    assert "is_member" in results[0].columns
