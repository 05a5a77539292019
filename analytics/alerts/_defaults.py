"""Default rules for any registered model, from its declared log schema and its settings.

:func:`default_rules` gives every model the same families, named ``<model>:<what>``:

- ``drift-share``: share of declared columns drifted per UTC day, anomalous (3 standard deviations
  above the past 14 normal days) and past 0.3 (warning) or 0.6 (critical), two days in a row;
- ``auc``: realised ROC AUC per day, below the past 14 days' mean minus 3 standard deviations by at
  least 0.03 (warning); critical when also below the version's validation ROC AUC minus 0.05
  (or 0.65 without one), two days in a row; kept firing two clear days; opens a retraining request;
- ``est-auc``: the CBPE estimate of ROC AUC per day (no labels needed), same band, warning only;
- ``fairness``: demographic parity ratio of the first sensitive attribute per week, below the model's
  ``fairness.dp_ratio_threshold`` (0.8 by default: the four-fifths rule), warning;
- ``latency``: the SLA percentile per day past the SLA (warning) or twice it (critical);
- ``freshness``: minutes since the newest prediction at the end of each hour, past 360 (warning)
  or 1,440 (critical).

Thresholds follow the README's conventions (drift) and the model's fairness and SLA settings.
"""

from __future__ import annotations

import duckdb

from analytics import settings
from analytics.alerts._rules import Level, Rule
from analytics.business import SLA_MS, SLA_PERCENTILE
from analytics.fairness import DP_RATIO, Thresholds, sensitive_attributes
from analytics.registry import champion_version, get_model, get_version

RUNBOOK_DRIFT = ("Open the Drift page for the alert's window: which columns drifted, since when, in which segment. "
                 "If a data pipeline changed, fix it upstream; if the population changed, check performance and "
                 "fairness and consider retraining.")
RUNBOOK_PERFORMANCE = ("Open the Performance page for the window: realised against estimated (CBPE) metrics. A "
                       "drop with stable inputs is concept drift: retrain on recent labels, or roll back to the "
                       "previous champion if it held up.")
RUNBOOK_LATENCY = "Open Cost & latency: which version and hour breached; scale the serving pods or roll back."
RUNBOOK_FRESHNESS = "No predictions arrive: check the serving gateway and the log shipping job."


def default_rules(con: duckdb.DuckDBPyConnection, model: str) -> list[Rule]:
    """The default rules of a registered model (see the module docstring)."""
    info = get_model(con, model)
    champion = champion_version(con, model)
    validation = (get_version(con, model, champion).get("validation_metrics") or {}) if champion else {}
    auc_floor = float(validation["roc_auc"]) - 0.05 if "roc_auc" in validation else 0.65
    sla = float(settings.get(con, SLA_MS.key, model=model))
    percentile = str(settings.get(con, SLA_PERCENTILE.key, model=model))
    out = [
        Rule(f"{model}:drift-share", model, "drift.share_drifted", "above", warning=Level(bound=0.3, k=3.0),
             critical=Level(bound=0.6, k=3.0), min_rows=200, for_windows=2, keep_firing_for=1,
             runbook=RUNBOOK_DRIFT, description="share of declared columns drifted against the version's reference"),
        Rule(f"{model}:auc", model, "performance.roc_auc", "below", warning=Level(k=3.0),
             critical=Level(bound=round(auc_floor, 4), k=3.0), min_rows=100, min_effect=0.03, for_windows=2, keep_firing_for=2,
             runbook=RUNBOOK_PERFORMANCE, action="retrain",
             description="realised ROC AUC of the labelled predictions of each day"),
        Rule(f"{model}:est-auc", model, "performance.est_roc_auc", "below", warning=Level(k=3.0), min_rows=200,
             min_effect=0.03, description="ROC AUC estimated without labels (CBPE)"),
        Rule(f"{model}:latency", model, f"latency.{percentile}_ms", "above", warning=Level(bound=sla),
             critical=Level(bound=2 * sla), min_rows=50, runbook=RUNBOOK_LATENCY,
             description=f"{percentile} latency per day against the SLA"),
        Rule(f"{model}:freshness", model, "freshness.minutes", "above", warning=Level(bound=360.0),
             critical=Level(bound=1440.0), window="hour", min_rows=0, runbook=RUNBOOK_FRESHNESS,
             description="minutes since the newest prediction"),
    ]
    sensitive = [a.key for a in sensitive_attributes(info.schema)]
    if sensitive:
        parity = Thresholds(dp_ratio=float(settings.get(con, DP_RATIO.key, model=model)))
        out.append(Rule(f"{model}:fairness", model, "fairness.demographic_parity_ratio", "below",
                        column=sensitive[0], warning=Level(bound=parity.dp_ratio), window="week", min_rows=500,
                        description=f"{parity.dp_ratio_rule} on {sensitive[0]}"))
    return out
