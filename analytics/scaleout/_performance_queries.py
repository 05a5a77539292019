"""The performance summary query (``performance_cells``), written once as an Ibis expression and run by DuckDB or Spark.

:func:`performance_cells` returns the rows :mod:`analytics.performance._cells`' build inserts
(:func:`analytics.performance._cells.log_cells_sql`, which stays the definition of what a cell means): the
log joined with its outcomes, per UTC day, version, segment, segment value, label, decision at the version's
threshold and score bin, once for all rows (``segment = ''``, :data:`~analytics.performance.BINS` bins) and
once per declared segment column (:data:`~analytics.performance.SEGMENT_BINS` bins).

The store's build groups by SQL grouping sets, which Ibis does not write; here each row is unpivoted into one
row for all rows and one per segment column (one read of the log, as the drift rollups read it), then
grouped once.

**The bins.** :func:`score_bin` is :func:`analytics.performance._cells.bin_sql` written in Ibis: a first guess
``ceil(score * bins) - 1``, settled by comparing the score with the edges ``guess / bins`` and
``(guess + 1) / bins``. It uses only multiplication, division, ``ceil`` and comparisons of doubles, which
IEEE 754 rounds the same way in every engine (unlike the drift rollups' ``asinh``, whose last bits differ
between Spark and DuckDB's libm and which therefore settle on exact edges computed in Python): an edge is
the double nearest to ``j / bins`` in DuckDB and in Spark alike. The parity tests check it on every edge
and its neighbouring doubles on both engines.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics.performance import BINS, EPS, SEGMENT_BINS
from analytics.scaleout._business_queries import with_labels
from analytics.scaleout._queries import day_of, strings

#: The unpivoted slot of the cells of all rows (a segment column's slot is ``vigil_s<i>``).
_ALL = "vigil_all"


def score_bin(score: ir.FloatingValue, bins: int = BINS) -> ir.IntegerValue:
    """The bin of ``score`` among ``bins`` equal-width bins on [0, 1], upper edge included
    (:func:`analytics.performance._cells.bin_sql`, in Ibis).

    Parameters
    ----------
    score : ibis FloatingValue
        The scores.
    bins : int
        The number of bins.

    Returns
    -------
    ibis IntegerValue
        The number of inner edges (the doubles nearest to ``j / bins``) below the score: a score equal to an
        edge falls in the bin below it, as in :func:`sklearn.calibration.calibration_curve`.
    """
    b = int(bins)
    clamped = ibis.least(ibis.greatest(score, 0.0), 1.0)
    guess = (clamped * b).ceil().cast("int64") - 1
    below = ibis.ifelse(score <= guess.cast("float64") / b, 1, 0)
    above = ibis.ifelse(score > (guess + 1).cast("float64") / b, 1, 0)
    return ibis.least(b - 1, ibis.greatest(0, guess - below + above))


def _slot(i: int) -> str:
    return f"vigil_s{i}"


def performance_cells(log: ir.Table, outcomes: ir.Table, days: list[date], thresholds: dict[str, float],
                      segments: tuple[str, ...]) -> ir.Table:
    """The performance cells of the log's rows of ``days``.

    Parameters
    ----------
    log, outcomes : ibis Table
        The prediction log and the outcomes (``prediction_id``, ``observed_at``, ``label``).
    days : list of date
        UTC days, at least one.
    thresholds : dict
        Each registered version's threshold (rows of other versions are left out, as the build's join leaves them).
    segments : tuple of str
        The declared segment columns, in the schema's order.

    Returns
    -------
    ibis Table
        ``day, version, segment, segment_value, label, decision, bin, n, score_sum, sq_error_sum,
        log_loss_sum``: the rows of :data:`analytics.performance.PERFORMANCE_CELLS`' build.
    """
    versions = ibis.memtable(pd.DataFrame({"vigil_version": strings(thresholds),
                                           "vigil_threshold": [float(t) for t in thresholds.values()]}))
    labelled = with_labels(log, outcomes, days)
    rows = labelled.join(versions, labelled.model_version == versions.vigil_version)
    wide = rows.select(day=day_of(rows), version=rows.model_version, score=rows.score.cast("float64"),
                       label=rows.label.cast("int8"), decision=(rows.score >= rows.vigil_threshold).cast("int8"),
                       vigil_bin=score_bin(rows.score.cast("float64"), BINS),
                       **{_ALL: ibis.literal("")},
                       **{_slot(i): rows[s].cast("string") for i, s in enumerate(segments)})
    long = wide.pivot_longer([_ALL, *(_slot(i) for i in range(len(segments)))], names_to="vigil_slot",
                             values_to="segment_value")
    whole = long.vigil_slot == _ALL
    segment = ibis.cases(*((long.vigil_slot == _slot(i), s) for i, s in enumerate(segments)), else_="") \
        if segments else ibis.literal("")
    keyed = long.mutate(segment=segment, bin=ibis.ifelse(whole, long.vigil_bin,
                                                         long.vigil_bin // (BINS // SEGMENT_BINS)).cast("int32"))
    clipped = ibis.greatest(ibis.least(keyed.score, 1 - EPS), EPS)
    label = keyed.label
    return (keyed.group_by("day", "version", "segment", "segment_value", "label", "decision", "bin")
            .aggregate(n=_.count(), score_sum=keyed.score.sum(), sq_error_sum=((keyed.score - label) ** 2).sum(),
                       log_loss_sum=-(label * clipped.ln() + (1 - label) * (1 - clipped).ln()).sum()))
