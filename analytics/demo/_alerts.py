"""The demo's alerting history: default rules for both models, and the monitor replayed over the production
window, so the Alerts, Incidents and Service levels pages open on a real inbox.

The replay runs in three stretches with what people did in between: the covariate episode's drift
alert is acknowledged by the analyst a few hours after it fired and, once the campaign's traffic has
ended, resolved with a note (the knowledge base's first entry); the concept episode's critical
performance alert is left unacknowledged, so it escalates and is still open at the end.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from analytics import alerts, store
from analytics.demo import _credit as credit
from analytics.demo import _employment as employment
from analytics.roles import Actor

ADMIN = Actor("ada.admin", "admin")
ANALYST = Actor("arthur.analyst", "analyst")


def replay(db: Path, end: datetime) -> alerts.MonitorReport:
    """Save the default rules of both demo models and replay the monitor over the production window."""
    store.write(lambda con: [alerts.save_rule(con, ADMIN, r, at=end - timedelta(days=credit.DAYS + 1))
                             for m in (credit.MODEL, employment.MODEL) for r in alerts.default_rules(con, m)], db)
    start = end - timedelta(days=credit.DAYS)
    acknowledged_on = start + timedelta(days=credit.COVARIATE_DAYS[0] + 10)
    resolved_on = start + timedelta(days=credit.COVARIATE_DAYS[1] + 1)
    # One cache over the whole window (and the baselines' reach before it): the three stretches share its calls.
    cache = alerts.SeriesCache(db, span=(start - timedelta(weeks=3 * 14 + 1), end))
    alerts.monitor(db, at=acknowledged_on, since=start, send=False, cache=cache)
    drift_alerts = store.read(lambda con: alerts.alerts_table(
        con, model=credit.MODEL, states=("firing",)), db)
    drift_alerts = drift_alerts[drift_alerts["family"] == "drift"]
    for alert_id in drift_alerts["alert_id"]:
        store.write(lambda con, a=int(alert_id): alerts.acknowledge(
            con, ANALYST, a, assignee=ANALYST.username, at=acknowledged_on + timedelta(hours=3),
            comment="An online campaign brings younger applicants with lower limits; checking performance and "
                    "fairness on the new mix."), db)
    alerts.monitor(db, at=resolved_on, since=acknowledged_on, send=False, cache=cache)
    for alert_id in drift_alerts["alert_id"]:
        if store.read(lambda con, a=int(alert_id): alerts.get_alert(con, a)["state"], db) != "resolved":
            store.write(lambda con, a=int(alert_id): alerts.resolve(
                con, ANALYST, a, at=resolved_on + timedelta(hours=2),
                note="Campaign ended; the applicant mix is back to the reference. Performance held through the "
                     "episode (realised ROC AUC within its band), so no retraining; the marketing team now tells "
                     "us before a campaign."), db)
    return alerts.monitor(db, at=end, since=resolved_on, send=False, cache=cache)
