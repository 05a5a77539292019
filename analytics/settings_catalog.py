"""Every setting Vigil declares, and the thresholds that page texts quote, read from the settings.

Features declare their settings where they use them (:func:`analytics.settings.declare`). This module
imports each of :data:`SETTING_MODULES` so that one place (the ``vigil settings`` command, the Settings
page) sees all of them, and :func:`thresholds` reads the thresholds a page states in words, so that a
page never writes "0.8" or "0.25" into its text while an admin has changed the setting.

Example
-------
>>> th = thresholds("data/vigil.duckdb", "loan-default")                         # doctest: +SKIP
>>> f"PSI {th.psi}"                                                               # doctest: +SKIP
'PSI 0.25'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError
from analytics.settings import Setting
from analytics.store import run

#: Modules that declare settings; a feature with new settings adds its module here.
SETTING_MODULES: tuple[str, ...] = (
    "analytics.alerts._intervention", "analytics.alerts._monitor", "analytics.alerts._notify",
    "analytics.business._cost", "analytics.business._latency", "analytics.compliance._calendar",
    "analytics.compliance._incidents", "analytics.compliance._risk", "analytics.deployments._compare",
    "analytics.drift._methods",
    "analytics.drift._multivariate", "analytics.explain._counterfactual", "analytics.explain._errors",
    "analytics.explain._kept", "analytics.explain._sample", "analytics.explain._shap", "analytics.fairness._report",
    "analytics.governance._evidence", "analytics.ingest._roles",
    "analytics.performance._concept", "analytics.performance._sampling", "analytics.sessions",
    "analytics.summaries._engine",
)


def catalog() -> dict[str, Setting]:
    """Every declared setting, by key (the declaring modules are imported first)."""
    for module in SETTING_MODULES:
        importlib.import_module(module)
    return settings.declared()


def lookup(key: str) -> Setting:
    """The setting ``key``, whichever module declares it.

    :func:`analytics.settings.lookup` knows only the settings of the modules imported so far (``vigil
    demo`` had not imported :mod:`analytics.sessions` when it read ``--set``); this imports every
    declaring module first, as :func:`catalog` does.

    Parameters
    ----------
    key : str
        A setting's key, e.g. ``"auth.session_idle_timeout"``.

    Returns
    -------
    Setting
        Its declaration.

    Raises
    ------
    InvalidInputError
        If no module declares ``key`` (the message points to ``vigil settings list``, which shows them all).
    """
    known = catalog()
    if key not in known:
        raise InvalidInputError(f"setting {key!r} is unknown; 'vigil settings list' shows them all")
    return known[key]


@dataclass(frozen=True)
class Thresholds:
    """The thresholds pages quote in their text, as in effect for one model (its value, else global, else default).

    Attributes
    ----------
    psi, psi_warning : float
        PSI at or above which a column has drifted, and shows a moderate shift.
    ks_p_value, chisquare_p_value : float
        p-values below which a column has drifted.
    jensenshannon, wasserstein : float
        Jensen-Shannon distance and normalised Wasserstein distance at or above which a column has drifted.
    domain_classifier_auc_lower, domain_classifier_auc_upper : float
        Domain classifier ROC AUC outside which the inputs have drifted (NannyML's band 0.45-0.65).
    dp_ratio, eo_difference : float
        Fairness: demographic parity ratio below which, and equalized odds difference above which, an
        attribute fails.
    auc_drop : float
        Fall of the realised ROC AUC below validation that counts as a performance drop.
    """

    psi: float
    psi_warning: float
    ks_p_value: float
    chisquare_p_value: float
    jensenshannon: float
    wasserstein: float
    domain_classifier_auc_lower: float
    domain_classifier_auc_upper: float
    dp_ratio: float
    eo_difference: float
    auc_drop: float

    @property
    def domain_classifier_band(self) -> str:
        """The domain classifier's band for a reader, saying whether it is the declared default
        (``'0.45-0.65 (NannyML's default band)'``) or set apart from it."""
        known = catalog()
        band = f"{self.domain_classifier_auc_lower:g}-{self.domain_classifier_auc_upper:g}"
        defaults = tuple(known[_THRESHOLD_KEYS[name]].default
                         for name in ("domain_classifier_auc_lower", "domain_classifier_auc_upper"))
        if (self.domain_classifier_auc_lower, self.domain_classifier_auc_upper) == defaults:
            return f"{band} (NannyML's default band)"
        return f"{band} (set in the settings; NannyML's default band is {defaults[0]:g}-{defaults[1]:g})"


_THRESHOLD_KEYS: dict[str, str] = {
    "psi": "drift.psi_threshold", "psi_warning": "drift.psi_warning", "ks_p_value": "drift.ks_p_value",
    "chisquare_p_value": "drift.chisquare_p_value", "jensenshannon": "drift.jensenshannon_threshold",
    "wasserstein": "drift.wasserstein_threshold", "domain_classifier_auc_lower": "drift.domain_classifier_auc_lower",
    "domain_classifier_auc_upper": "drift.domain_classifier_auc_upper",
    "dp_ratio": "fairness.dp_ratio_threshold", "eo_difference": "fairness.eo_difference_threshold",
    "auc_drop": "performance.auc_drop",
}


def thresholds(db: str | Path | duckdb.DuckDBPyConnection, model: str | None = None) -> Thresholds:
    """The :class:`Thresholds` in effect for ``model`` (global values when None)."""
    catalog()

    def work(con: duckdb.DuckDBPyConnection) -> Thresholds:
        return Thresholds(**{name: float(settings.get(con, key, model=model)) for name, key in _THRESHOLD_KEYS.items()})

    return run(db, work)


def overview(db: str | Path | duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every setting with its description, allowed values, default, global value and per-model overrides.

    Returns
    -------
    pandas.DataFrame
        One row per setting, by key: ``key``, ``description``, ``allowed``, ``default``, ``global_value``
        (the default when no global value is set), ``global_set`` (bool) and ``overrides`` (text,
        ``model: value`` pairs), all values formatted as :func:`analytics.settings.format_value` writes them.
    """
    known = catalog()

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        global_values = dict(con.execute("SELECT key, value FROM settings WHERE scope = ?", [settings.GLOBAL]).fetchall())
        rows = []
        for key, setting in sorted(known.items()):
            value = settings.get(con, key)
            rows.append({"key": key, "description": setting.description, "allowed": setting.allowed(),
                         "default": settings.format_value(setting, setting.default),
                         "global_value": settings.format_value(setting, value), "global_set": key in global_values,
                         "overrides": "; ".join(f"{m}: {settings.format_value(setting, v)}"
                                                for m, v in settings.overrides(con, key).items())})
        return pd.DataFrame(rows)

    return run(db, work)
