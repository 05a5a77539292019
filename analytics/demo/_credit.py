"""The ``credit-default`` demo model: UCI credit-card clients scored for default.

Story (180 days of production, day 0 = ``end - 180 days``):

- The 30,000 real clients are shuffled with the seed. 12,000 form the *lab* part: 9,000 train the
  champion ``v1`` and 3,000 are its validation (reference) set. The other 18,000 are the held-out
  pool from which production applicants are drawn (with replacement; bill amounts jittered by 3%;
  above 10 M rows, each drawn client takes one of 64 jittered versions of itself, made once).
- ``region`` and ``channel`` are simulated segments (the UCI data has none).
- Covariate-drift episode, days 60-89: an online campaign brings younger applicants with lower
  credit limits (applicants are drawn with weights favouring AGE < 30; 70% arrive online). The
  relation between inputs and default is unchanged.
- Concept-drift episode, days 120-179: the same mix of applicants, but a repayment shock makes
  25% of clients whose latest repayment status was on time (PAY_0 <= 0) and who repaid in the data
  default instead. The inputs do not move; performance does.
- Labels (default or not) arrive 30 to 60 days after the decision, so the last 30 days have none.
- The challenger ``v2``, retrained on the lab training set plus 3,000 newer clients, runs in
  shadow from day 120 on the same traffic.
- SEX is logged (for fairness) but is not an input of the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from analytics.demo import _traffic as traffic
from analytics.logschema import Column, LogSchema

MODEL = "credit-default"
DAYS = 180
COVARIATE_DAYS = (60, 90)
CONCEPT_DAYS = (120, 180)
SHADOW_FROM_DAY = 120
CONCEPT_FLIP_PROBABILITY = 0.25
DEFAULT_ROWS = 240_000
#: Most applicants simulated (and held in memory) at once: a chunk of days is cut so that it stays below
#: this, whatever the log's size. Up to 10 M rows a chunk is 15 days, as it always was (same data).
CHUNK_ROWS = 800_000
#: Above this many rows, a drawn client's jittered bill amounts are one of :data:`JITTER_VARIANTS` versions
#: made once per client (each scored once per model), not drawn afresh for every row: a 100 M-row log then
#: costs no model evaluation per row. Up to this size every row is jittered afresh, as it always was.
VARIANTS_ABOVE_ROWS = 10_000_000
JITTER_VARIANTS = 64
THRESHOLD = 0.5
REGIONS = ("Taipei", "New Taipei", "Taichung", "Kaohsiung", "Tainan")
REGION_WEIGHTS = (0.35, 0.20, 0.17, 0.16, 0.12)
CHANNELS = ("branch", "online", "partner")
CHANNEL_WEIGHTS = (0.45, 0.40, 0.15)
CAMPAIGN_CHANNEL_WEIGHTS = (0.20, 0.70, 0.10)
#: Jittered when a client is drawn again. Credit limits and payments keep their round source values
#: (multiples of NT$10,000, NT$1,000, ...): jittered, they would give production rows away to a
#: domain classifier against the reference data, which no real applicant mix would.
AMOUNT_COLUMNS = [f"BILL_AMT{i}" for i in range(1, 7)]
PAY_COLUMNS = ["PAY_0"] + [f"PAY_{i}" for i in range(2, 7)]
COST_PER_CALL = {"v1": 0.00042, "v2": 0.00061}
MEDIAN_LATENCY_MS = {"v1": 28.0, "v2": 41.0}
#: Realised value of an approved application, as a share of its credit limit (NT$).
VALUE_GOOD_APPROVED = 0.05
VALUE_DEFAULT_APPROVED = -0.25


def age_band(age: pd.Series) -> pd.Series:
    """Age bands used for fairness: <25, 25-34, 35-44, 45-59, 60+."""
    bins = [0, 25, 35, 45, 60, 200]
    labels = ["<25", "25-34", "35-44", "45-59", "60+"]
    return pd.cut(age, bins=bins, labels=labels, right=False).astype(str)


def _months_ago(months: int) -> str:
    return "last month" if months == 1 else f"{months} months ago"


SCHEMA = LogSchema(
    columns=(
        Column("LIMIT_BAL", "double", description="credit limit (NT$)", title="credit limit"),
        Column("SEX", "categorical", role="attribute", sensitive=True, mutability="immutable",
               description="sex; logged for fairness, not a model input", title="sex"),
        Column("EDUCATION", "categorical", sensitive=True, mutability="increase_only",
               description="graduate school, university, high school, others, unknown", title="education"),
        Column("MARRIAGE", "categorical", sensitive=True, mutability="immutable",
               description="married, single, others, unknown", title="marital status"),
        Column("AGE", "integer", sensitive=True, mutability="increase_only", description="age in years",
               title="age"),
        *(Column(c, "integer", description="repayment status, months late (-2..8; <= 0 on time)",
                 title=f"repayment status {_months_ago(i)}") for i, c in enumerate(PAY_COLUMNS, start=1)),
        *(Column(f"BILL_AMT{i}", "double", description=f"bill statement {i} month(s) ago (NT$)",
                 title=f"bill {_months_ago(i)}") for i in range(1, 7)),
        *(Column(f"PAY_AMT{i}", "double", description=f"amount paid {i} month(s) ago (NT$)",
                 title=f"paid {_months_ago(i)}") for i in range(1, 7)),
        Column("AGE_BAND", "categorical", role="attribute", sensitive=True, mutability="immutable",
               description="age band, for fairness", title="age band"),
        Column("region", "categorical", role="segment", description="region (simulated)", title="region"),
        Column("channel", "categorical", role="segment", description="application channel (simulated)", title="channel"),
    ),
    positive_class="default",
    notes={
        "education_order": ["unknown", "others", "high school", "university", "graduate school"],
        "decision": "1 = predicted default: the application is declined",
        "currency": "NT$",
    },
    decision_labels={0: "approved", 1: "declined"},
    outcome_labels={0: "repaid", 1: "defaulted"},
    favourable_decision=0,
)


@dataclass(frozen=True)
class CreditSplit:
    """The shuffled clients: lab training, lab validation (reference) and the production pool."""

    train: pd.DataFrame
    validation: pd.DataFrame
    pool: pd.DataFrame


def split(clients: pd.DataFrame, seed: int) -> CreditSplit:
    """Shuffle the clients with the seed and cut them into lab and production parts."""
    rng = np.random.default_rng(seed)
    shuffled = clients.iloc[rng.permutation(len(clients))].reset_index(drop=True)
    shuffled["AGE_BAND"] = age_band(shuffled["AGE"])
    shuffled["region"] = rng.choice(REGIONS, size=len(shuffled), p=REGION_WEIGHTS)
    shuffled["channel"] = rng.choice(CHANNELS, size=len(shuffled), p=CHANNEL_WEIGHTS)
    return CreditSplit(shuffled.iloc[:9_000].reset_index(drop=True),
                       shuffled.iloc[9_000:12_000].reset_index(drop=True),
                       shuffled.iloc[12_000:].reset_index(drop=True))


def traffic_plan(total_rows: int, start: datetime) -> np.ndarray:
    """Champion rows per day so that champion plus shadow rows come to about ``total_rows``."""
    weights = traffic.day_weights(start, DAYS)
    multiplier = np.where(np.arange(DAYS) >= SHADOW_FROM_DAY, 2.0, 1.0)
    champion_total = int(round(total_rows * weights.sum() / (weights * multiplier).sum()))
    return traffic.split_counts(champion_total, weights)


def _campaign_weights(pool: pd.DataFrame) -> np.ndarray:
    weights = np.exp(-np.clip(pool["AGE"].to_numpy() - 22, 0, None) / 6.0)
    weights *= np.where(pool["LIMIT_BAL"].to_numpy() <= 100_000, 2.0, 1.0)
    return weights / weights.sum()


def chunk_days(counts: np.ndarray, most_days: int = 15) -> int:
    """Days simulated at once: ``most_days``, fewer when that many days would exceed :data:`CHUNK_ROWS`
    applicants (at least one day, however busy), so memory stays bounded as the log grows."""
    return int(max(1, min(most_days, CHUNK_ROWS // max(1, int(counts.max())))))


def jitter_variants(pool: pd.DataFrame, seed: int, *, variants: int = JITTER_VARIANTS,
                    jitter: float = 0.03) -> pd.DataFrame:
    """``variants`` copies of every client of the pool, each with its own jittered bill amounts; the copies
    of client ``i`` are rows ``i * variants`` to ``(i + 1) * variants - 1``."""
    rng = np.random.default_rng(seed + 5)
    copies = pool.iloc[np.repeat(np.arange(len(pool)), variants)].reset_index(drop=True)
    for column in AMOUNT_COLUMNS:
        copies[column] = traffic.jitter_amounts(rng, copies[column].to_numpy(float), jitter)
    # Text columns as categories: drawing a day's applicants then moves small codes, not strings.
    text = [c for c in copies.columns if pd.api.types.is_string_dtype(copies[c]) or copies[c].dtype == object]
    return copies.astype({c: "category" for c in text})


def simulate(pool: pd.DataFrame, counts: np.ndarray, start: datetime, seed: int, *,
             jitter: float = 0.03, variants: pd.DataFrame | None = None) -> Iterator[pd.DataFrame]:
    """Yield production applicants chunk of days by chunk of days (:func:`chunk_days`), with their true label.

    Each frame has the declared columns, ``predicted_at``, ``day`` and ``default`` (the label
    after the concept-drift episode's shock). With ``variants`` (:func:`jitter_variants` of the pool), a
    drawn client's bill amounts are those of one of its variants, drawn at random, and the frame has
    ``variant``, that variant's row in ``variants``; otherwise they are jittered afresh for each row.
    """
    rng = np.random.default_rng(seed + 1)
    step = chunk_days(counts)
    normal = np.full(len(pool), 1.0 / len(pool))
    campaign = _campaign_weights(pool)
    on_time = pool["PAY_0"].to_numpy() <= 0
    for first in range(0, DAYS, step):
        days = np.arange(first, min(first + step, DAYS))
        day_index = np.repeat(days, counts[days])
        in_campaign = (day_index >= COVARIATE_DAYS[0]) & (day_index < COVARIATE_DAYS[1])
        picks = np.where(in_campaign, rng.choice(len(pool), size=day_index.size, p=campaign),
                         rng.choice(len(pool), size=day_index.size, p=normal))
        if variants is None:
            frame = pool.iloc[picks].reset_index(drop=True)
        else:
            per_client = len(variants) // len(pool)
            variant = picks * per_client + rng.integers(0, per_client, size=picks.size)
            frame = variants.iloc[variant].reset_index(drop=True)
            frame["variant"] = variant
        frame["channel"] = np.where(in_campaign, rng.choice(CHANNELS, size=day_index.size, p=CAMPAIGN_CHANNEL_WEIGHTS),
                                    frame["channel"].to_numpy())
        if variants is None:
            for column in AMOUNT_COLUMNS:
                frame[column] = traffic.jitter_amounts(rng, frame[column].to_numpy(float), jitter)
        stamps, order = traffic.arrival_times(rng, start, day_index)
        frame = frame.iloc[order].reset_index(drop=True)
        frame["day"] = day_index[order]
        frame["predicted_at"] = stamps
        shock = ((frame["day"].to_numpy() >= CONCEPT_DAYS[0]) & on_time[picks[order]]
                 & (frame["default"].to_numpy() == 0) & (rng.random(len(frame)) < CONCEPT_FLIP_PROBABILITY))
        frame["default"] = np.where(shock, 1, frame["default"].to_numpy())
        yield frame


def business_value(decision: np.ndarray, label: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Realised value of a decision in NT$: approved and repaid earns, approved and defaulted loses."""
    approved = decision == 0
    return np.where(approved & (label == 0), VALUE_GOOD_APPROVED * limit,
                    np.where(approved & (label == 1), VALUE_DEFAULT_APPROVED * limit, 0.0)).round(2)


def log_rows(frame: pd.DataFrame, score: np.ndarray, version: str, role: str, threshold: float,
             rng: np.random.Generator, id_prefix: str, first_id: int) -> pd.DataFrame:
    """Turn scored applicants into prediction-log rows of the declared schema."""
    n = len(frame)
    rows = pd.DataFrame({
        "prediction_id": [f"{id_prefix}{i:09d}" for i in range(first_id, first_id + n)],
        # The serving request: a shadow's row of a request carries the champion's request id (pairs them).
        "request_id": [f"cd-r{i:09d}" for i in range(first_id, first_id + n)],
        "predicted_at": frame["predicted_at"].to_numpy() + np.timedelta64(0 if role == "champion" else 150, "ms"),
        "model_version": version,
        "deployment_role": role,
        "score": score,
        "decision": (score >= threshold).astype(np.int8),
        "latency_ms": traffic.latency_ms(rng, n, MEDIAN_LATENCY_MS[version]),
        "cost": COST_PER_CALL[version],
    })
    for column in SCHEMA.columns:
        rows[column.name] = frame[column.name].to_numpy()
    return rows


def outcome_rows(log: pd.DataFrame, label: np.ndarray, end: datetime, rng: np.random.Generator,
                 with_value: bool) -> pd.DataFrame:
    """Outcomes known by ``end``: the label 30-60 days after the decision, with its business value."""
    observed = log["predicted_at"].to_numpy() + traffic.label_delays(rng, len(log)).to_numpy()
    known = observed <= np.datetime64(end)
    value = (business_value(log["decision"].to_numpy(), label, log["LIMIT_BAL"].to_numpy())
             if with_value else np.full(len(log), np.nan))
    return pd.DataFrame({
        "prediction_id": log["prediction_id"].to_numpy()[known],
        "observed_at": observed[known],
        "label": label[known].astype(np.int8),
        "business_value": value[known],
    })


def window_start(end: datetime) -> datetime:
    """First day of the simulated production window."""
    return end - timedelta(days=DAYS)
