"""The ``employment`` demo model: is a Massachusetts resident employed (ACS 2015-2018)?

2015 is the lab year: 70% trains the champion ``v1``, 30% is its reference set. Each production
survey year, 2016, 2017 and 2018, is replayed as 60 days of traffic in the 180-day window, so the
real year-to-year drift of the population shows up as drift over time. ``survey_year`` is kept as a
segment. Labels arrive 30 to 60 days after the prediction. The candidate ``v2``, trained on 2015
and 2016, waits in review. ``v3``, trained on 2015 to 2017, is approved and serves a 10% canary from
day 150 (an A/B case for the Deployments page: different requests, a slower and dearer service).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from analytics.demo import _traffic as traffic
from analytics.logschema import Column, LogSchema

MODEL = "employment"
DAYS_PER_YEAR = 60
PRODUCTION_YEARS = (2016, 2017, 2018)
THRESHOLD = 0.5
COST_PER_CALL = 0.00018
MEDIAN_LATENCY_MS = 14.0
#: The canary ``v3`` (trained on the 2015-2017 surveys) serves this share of requests from CANARY_FROM_DAY.
CANARY_SHARE = 0.1
CANARY_FROM_DAY = 150
CANARY_MEDIAN_LATENCY_MS = 17.0
CANARY_COST_PER_CALL = 0.00021

_CODES = {
    "SCHL": "educational attainment (ACS code 1-24)",
    "MAR": "marital status (1 married .. 5 never married)",
    "RELP": "relationship to the reference person (ACS code)",
    "DIS": "disability (1 yes, 2 no)",
    "ESP": "employment status of parents (ACS code)",
    "CIT": "citizenship status (ACS code 1-5)",
    "MIG": "mobility status, lived here 1 year ago (ACS code)",
    "MIL": "military service (ACS code)",
    "ANC": "ancestry recode (ACS code)",
    "NATIVITY": "nativity (1 native, 2 foreign born)",
    "DEAR": "hearing difficulty (1 yes, 2 no)",
    "DEYE": "vision difficulty (1 yes, 2 no)",
    "DREM": "cognitive difficulty (1 yes, 2 no)",
}

#: Short titles shown on pages instead of the ACS variable names.
_TITLES = {
    "SCHL": "education", "MAR": "marital status", "RELP": "relationship", "DIS": "disability",
    "ESP": "parents' employment", "CIT": "citizenship", "MIG": "moved in the last year",
    "MIL": "military service", "ANC": "ancestry", "NATIVITY": "nativity", "DEAR": "hearing difficulty",
    "DEYE": "vision difficulty", "DREM": "cognitive difficulty",
}

SCHEMA = LogSchema(
    columns=(
        Column("AGEP", "integer", sensitive=True, mutability="increase_only", description="age in years",
               title="age"),
        *(Column(name, "categorical", description=text, mutability="immutable" if name in ("NATIVITY", "ANC") else "free",
                 title=_TITLES[name])
          for name, text in _CODES.items()),
        Column("SEX", "categorical", sensitive=True, mutability="immutable", description="sex (1 male, 2 female)",
               title="sex"),
        Column("RAC1P", "categorical", sensitive=True, mutability="immutable",
               description="race (ACS recode 1-9; 1 White alone, 2 Black or African American alone, ...)", title="race"),
        Column("survey_year", "categorical", role="segment", description="ACS survey year", title="survey year"),
    ),
    positive_class="employed",
    notes={"decision": "1 = predicted employed"},
    decision_labels={0: "predicted not employed", 1: "predicted employed"},
    outcome_labels={0: "not employed", 1: "employed"},
    favourable_decision=1,
)


def split(people: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (training, validation, production): 2015 split 70/30, and 2016-2018."""
    rng = np.random.default_rng(seed)
    people = people.assign(survey_year=people["year"].astype(str))
    lab = people[people["year"] == 2015]
    lab = lab.iloc[rng.permutation(len(lab))].reset_index(drop=True)
    cut = int(len(lab) * 0.7)
    production = people[people["year"].isin(PRODUCTION_YEARS)].reset_index(drop=True)
    return lab.iloc[:cut].reset_index(drop=True), lab.iloc[cut:].reset_index(drop=True), production


def simulate(production: pd.DataFrame, start: datetime, seed: int) -> Iterator[pd.DataFrame]:
    """Yield each production year's people in random order with arrival times over its 60 days."""
    rng = np.random.default_rng(seed + 2)
    for offset, year in enumerate(PRODUCTION_YEARS):
        people = production[production["year"] == year]
        people = people.iloc[rng.permutation(len(people))].reset_index(drop=True)
        year_start = start + timedelta(days=offset * DAYS_PER_YEAR)
        counts = traffic.split_counts(len(people), traffic.day_weights(year_start, DAYS_PER_YEAR))
        day_index = np.repeat(np.arange(DAYS_PER_YEAR), counts)
        stamps, order = traffic.arrival_times(rng, year_start, day_index)
        people = people.iloc[order].reset_index(drop=True)
        people["predicted_at"] = stamps
        yield people


def log_rows(frame: pd.DataFrame, score: np.ndarray, version: str, rng: np.random.Generator,
             first_id: int, *, role: str = "champion", median_latency_ms: float = MEDIAN_LATENCY_MS,
             cost: float = COST_PER_CALL) -> pd.DataFrame:
    """Turn scored people into prediction-log rows of the declared schema."""
    n = len(frame)
    rows = pd.DataFrame({
        "prediction_id": [f"em-{i:09d}" for i in range(first_id, first_id + n)],
        "predicted_at": frame["predicted_at"].to_numpy(),
        "model_version": version,
        "deployment_role": role,
        "score": score,
        "decision": (score >= THRESHOLD).astype(np.int8),
        "latency_ms": traffic.latency_ms(rng, n, median_latency_ms),
        "cost": cost,
    })
    for column in SCHEMA.columns:
        rows[column.name] = frame[column.name].to_numpy()
    return rows
