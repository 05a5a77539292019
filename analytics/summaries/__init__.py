"""One engine for the per-day summaries kept in the store: its ledger, its freshness rule, its refresh.

A feature (drift, serving, KPIs, ...) declares its summary with :func:`register` (a :class:`Declaration`:
its name, its tables, how to build the rows of some UTC days, the key the rows depend on); the engine
knows no feature by name. The ledger (``summary_ledger``) records, per summary, model, scope and UTC
day, the log segments the day's rows were built from and the key. A day is fresh when both still
hold (and, for a summary of outcomes, when no later outcome ingest labels it). :func:`refresh` (run by
the ingest right after its commit and by ``vigil refresh``) rebuilds the stale days; readers only call
:func:`coverage` and read the days it names fresh, the others from the log. See docs/summaries.md.
"""

from analytics.summaries._engine import (BUILD_PART_ROWS, Coverage, Declaration, RefreshResult, SummaryTable,
                                         build_parts, coverage, declaration, declarations, forget, refresh,
                                         refresh_store, register, stale_days)
from analytics.summaries._ledger import (DAY_SEGMENTS, LedgerDay, day_rows, days_filter, has_segments, ledger_days,
                                         outcomes_through, unsummarised_note)

__all__ = [
    "BUILD_PART_ROWS", "DAY_SEGMENTS", "Coverage", "Declaration", "LedgerDay", "RefreshResult", "SummaryTable",
    "build_parts", "coverage", "day_rows", "declaration", "declarations", "days_filter", "forget", "has_segments", "ledger_days",
    "outcomes_through", "refresh", "refresh_store", "register", "stale_days", "unsummarised_note",
]
