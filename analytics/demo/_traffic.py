"""Shared pieces of the simulated production traffic: arrival times, latency, cost, label delay.

Only *when* and *how fast* are simulated; every input row and every label comes from a real
client or person of the public data sets (resampled, with a small multiplicative jitter on money
amounts when the log is scaled up).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

#: Relative traffic per hour of the day (UTC), busier in working hours.
HOURLY_PROFILE = np.array([2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 8, 9, 9, 9, 8, 7, 6, 5, 4, 4, 3, 2], float)
WEEKDAY_FACTOR = np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.55, 0.45])  # Monday .. Sunday


def day_weights(start: datetime, days: int) -> np.ndarray:
    """Relative volume of each day from ``start`` (weekends are quieter)."""
    weekdays = np.array([(start + timedelta(days=d)).weekday() for d in range(days)])
    return WEEKDAY_FACTOR[weekdays]


def split_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` rows over days in proportion to ``weights``, exactly (largest remainder)."""
    share = weights / weights.sum() * total
    counts = np.floor(share).astype(np.int64)
    remainder = total - counts.sum()
    counts[np.argsort(-(share - counts))[:remainder]] += 1
    return counts


def arrival_times(rng: np.random.Generator, start: datetime, day_index: np.ndarray) -> pd.DatetimeIndex:
    """Timestamps for rows on the given days, following :data:`HOURLY_PROFILE`, in time order per day."""
    hours = rng.choice(24, size=day_index.size, p=HOURLY_PROFILE / HOURLY_PROFILE.sum())
    seconds = day_index * 86_400 + hours * 3_600 + rng.integers(0, 3_600, size=day_index.size)
    order = np.argsort(seconds, kind="stable")
    stamps = pd.Timestamp(start) + pd.to_timedelta(np.sort(seconds), unit="s")
    return pd.DatetimeIndex(stamps), order


def latency_ms(rng: np.random.Generator, n: int, median_ms: float) -> np.ndarray:
    """Log-normal service latency with a 1% tail of slow calls (4x)."""
    base = rng.lognormal(np.log(median_ms), 0.35, size=n)
    slow = rng.random(n) < 0.01
    return np.round(np.where(slow, base * 4, base), 2)


def label_delays(rng: np.random.Generator, n: int, low_days: float = 30, high_days: float = 60) -> pd.TimedeltaIndex:
    """Time until the outcome is known: uniform between ``low_days`` and ``high_days``."""
    return pd.to_timedelta(rng.uniform(low_days, high_days, size=n) * 86_400, unit="s").round("s")


def jitter_amounts(rng: np.random.Generator, values: np.ndarray, scale: float) -> np.ndarray:
    """Multiply money amounts by log-normal noise of relative size ``scale``, rounded to whole NT$.

    Rounded as the source amounts are (whole NT$): rounding coarser than the reference would let a
    domain classifier tell production rows from reference rows by their last digit alone.
    """
    if scale <= 0:
        return values
    return np.round(values * rng.lognormal(0.0, scale, size=values.shape))
