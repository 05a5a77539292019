"""Alerts, incidents and automated intervention: Vigil tells people, and acts, when a model goes wrong.

Public API
----------
Rules
    :class:`Rule`, :class:`Level`, :data:`METRICS`, :func:`save_rule`, :func:`set_enabled`, :func:`get_rule`,
    :func:`rules`, :func:`rules_table`, :func:`default_rules`, :func:`classify` (one window's verdict).
Evaluation
    :func:`monitor` (one pass of ``vigil monitor``; replay with ``since``), :class:`MonitorReport`,
    :func:`fingerprint`, :class:`SeriesCache` (shared by the passes of one replay), :func:`series` (a rule's metric per window).
Alerts and incidents
    :func:`acknowledge`, :func:`resolve`, :func:`silence`, :func:`alerts_table`, :func:`timeline`,
    :func:`incidents_table` (the knowledge base), :func:`similar_incidents`, :func:`noise_report`,
    :func:`evaluations`, :func:`service_levels` (the SLA report).
Channels
    :func:`add_channel`, :func:`remove_channel`, :func:`channels_table`, :func:`try_channel`,
    :func:`dispatch`, :func:`enqueue_notice` (a notice without an alert), :func:`notifications_table`,
    :func:`signature`.
Intervention
    :func:`retrain_requests`, :func:`close_retrain_request`.

Every state change is written with its audit row in the caller's transaction (the CLI and the app
call these through :func:`analytics.store.write`).
"""

from analytics.alerts._defaults import default_rules
from analytics.alerts._intervention import close_retrain_request, retrain_requests
from analytics.alerts._metrics import SeriesCache, series
from analytics.alerts._monitor import ESCALATE_MINUTES, MonitorReport, Verdict, classify, fingerprint, monitor
from analytics.alerts._notify import (KINDS, add_channel, channels_table, dispatch, email_channel, enqueue_notice, notifications_table,
                                      remove_channel, send_email, signature, try_channel)
from analytics.alerts._rules import (METRICS, SEVERITIES, Level, Rule, describe_level, get_rule, metric_family,
                                     rules, rules_table, save_rule, set_enabled)
from analytics.alerts._state import (SLA_FAMILIES, acknowledge, evaluations, alerts_table, get_alert, incidents_table, noise_report,
                                     resolve, service_levels, silence, similar_incidents, timeline)

__all__ = [
    "ESCALATE_MINUTES", "KINDS", "METRICS", "SEVERITIES", "SLA_FAMILIES", "Level", "MonitorReport", "Rule", "SeriesCache", "Verdict", "acknowledge", "add_channel",
    "alerts_table", "channels_table", "classify", "close_retrain_request", "default_rules", "describe_level",
    "dispatch", "email_channel", "enqueue_notice", "evaluations", "fingerprint", "get_alert", "get_rule", "incidents_table", "metric_family", "monitor",
    "noise_report", "notifications_table", "remove_channel", "resolve", "retrain_requests", "rules", "rules_table",
    "save_rule", "send_email", "series", "service_levels", "set_enabled", "signature", "silence", "similar_incidents", "timeline", "try_channel",
]

