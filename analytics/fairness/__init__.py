"""Fairness: group metrics by sensitive attribute and intersection, over time, with a what-if.

Shaped like fairlearn's :class:`~fairlearn.metrics.MetricFrame`, computed where the data is:

- :func:`assess` counts confusion-matrix *cells* per sensitive group in DuckDB (one join of a
  model's predictions with their outcomes, grouped by version, UTC day, every sensitive attribute,
  label and decision; kept in the process until the model's next ingest, so later windows only sum
  cells) and returns a
  :class:`FairnessReport`: per attribute and intersection, per-group count, selection rate, true- and
  false-positive rates, precision and accuracy with bootstrap intervals; demographic parity difference
  and ratio, equalized odds difference and equal opportunity difference between the groups large
  enough to judge; the four-fifths verdict; and the same disparities per UTC week.
- :func:`assess_file` does the same for a Parquet or CSV file (the CLI).
- :func:`what_if` searches per-group thresholds that equalise selection or true-positive rates, with
  their cost in accuracy and business value; :func:`attach_recommendation` records it for a review.

Conventions: rates are of the **favourable** decision (for credit-default, decision 0: approved) and
of the favourable outcome (repaid), so "selection rate" is the approval rate and the four-fifths rule
compares approval rates. Selection rate uses every prediction; the other rates use labelled
predictions only, and each group says how many it has. Windows are whole UTC days. Groups under
``fairness.min_group_size`` predictions are *too small to judge*; under ``fairness.suppress_below``
they are suppressed (blank counts and rates).
"""

from analytics.fairness._cells import (
    AGE_EDGES, AGE_LABELS, FAIRNESS_CELLS, MISSING, Attribute, cached_daily_cells, day_range, favourable_decision, file_cells,
    file_score_histogram, score_histogram, sensitive_attributes, window,
)
from analytics.fairness._metrics import (
    FAIL, GROUP_METRICS, JUDGED, PASS, RATE_METRICS, SUPPRESSED, TOO_SMALL, AttributeResult, Disparity, Parity,
    Thresholds, assess_attribute, bootstrap_intervals, counts_by_group, demographic_parity, disparity, group_metrics,
    group_status, over_time,
)
from analytics.fairness._report import (
    DP_RATIO, EO_DIFFERENCE, MIN_GROUP, N_BOOT, SUPPRESS, FairnessReport, assess, assess_cells, assess_file,
    default_intersections, thresholds_for, what_if, what_if_file,
)
from analytics.fairness._whatif import (
    CONSTRAINTS, OBJECTIVES, GroupThresholdWhatIf, attach_recommendation, recommendations, search,
)

__all__ = [
    "AGE_EDGES", "AGE_LABELS", "MISSING", "DP_RATIO", "FAIRNESS_CELLS", "EO_DIFFERENCE", "MIN_GROUP", "N_BOOT", "SUPPRESS", "Attribute", "AttributeResult", "CONSTRAINTS", "Disparity", "FAIL", "FairnessReport",
    "GROUP_METRICS", "JUDGED", "OBJECTIVES", "PASS", "Parity", "RATE_METRICS", "SUPPRESSED", "TOO_SMALL",
    "Thresholds", "GroupThresholdWhatIf", "assess", "assess_attribute", "assess_cells", "assess_file", "attach_recommendation",
    "bootstrap_intervals", "counts_by_group", "demographic_parity", "disparity", "favourable_decision",
    "group_metrics", "group_status", "over_time", "recommendations",
    "search", "sensitive_attributes", "thresholds_for", "what_if", "what_if_file",
]
