"""``vigil monitor``: evaluate every enabled rule once per window, step each alert's state, notify after.

One pass (:func:`monitor`) reads the rules and the versions serving, computes each rule's metric for
the windows not yet evaluated (the last complete window, or every window since ``since`` when
replaying), then in one write transaction records each evaluation, steps the alert of its
fingerprint (rule, model, version, segment value) through

    pending -> firing -> acknowledged -> resolved

(``for_windows`` breaching windows before firing, ``keep_firing_for`` clear windows before resolving,
an acknowledged alert fires again after ``alerts.refire_after_hours`` if the condition holds),
groups firing alerts into incidents per model and rule family, mutes what silences and inhibition
say (a firing freshness alert mutes the model's drift and performance alerts; the critical and the
warning of one fingerprint are one alert), escalates critical alerts left unacknowledged, opens
retraining requests and ends canaries where rules ask, and queues notifications. Every state
change is audited in that transaction. Notifications are sent after it (:mod:`analytics.alerts._notify`).

A window already evaluated is skipped, so running the pass twice changes nothing and sends nothing
twice; two passes at once write each window once (the second finds the rows of the first).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import config, settings, store
from analytics.alerts import _intervention, _notify
from analytics.alerts._events import event
from analytics.alerts._metrics import SeriesCache, series, window_end_at, window_length
from analytics.alerts._rules import Level, Rule, get_rule, rules
from analytics.clock import utc_now
from analytics.errors import VigilError
from analytics.roles import Actor

MONITOR = Actor("svc:monitor", "system")
OPEN_STATES: tuple[str, ...] = ("pending", "firing", "acknowledged")
#: Families whose alerts a firing freshness alert of the same model mutes (no data, no judgement).
INHIBITED_BY_FRESHNESS: tuple[str, ...] = ("drift", "performance", "fairness", "kpi")

REFIRE_HOURS = settings.declare("alerts.refire_after_hours", 24.0, "An acknowledged alert whose condition still "
                                "holds fires again after this long", unit="hours", minimum=0.0)
ESCALATE_MINUTES = settings.declare("alerts.escalate_after_minutes", 60.0, "A critical alert not acknowledged "
                                    "within this time goes to the escalation channels", unit="minutes", minimum=0.0)
MIN_HISTORY = 3
#: How far back (in multiples of a rule's ``history``) a pass reads to find normal windows for the baseline.
HISTORY_REACH = 3


@dataclass(frozen=True)
class Verdict:
    """What one window of one rule showed.

    ``status`` is ``ok``, ``warning``, ``critical`` or ``insufficient`` (fewer than ``min_rows``
    rows, or no value). ``baseline`` is the mean of the past windows (None with fewer than three);
    the bounds are the levels' effective bounds (the stricter of the absolute and the dynamic one).
    """

    status: str
    value: float
    rows: int
    baseline: float | None
    warning_bound: float | None
    critical_bound: float | None


def _bound(level: Level | None, direction: str, mean: float | None, sd: float | None) -> tuple[bool, float | None]:
    """Whether the level can judge, and its effective bound (both conditions: the stricter bound)."""
    if level is None:
        return False, None
    bounds = []
    if level.bound is not None:
        bounds.append(level.bound)
    if level.k is not None:
        if mean is None or sd is None:
            return False, None
        bounds.append(mean + level.k * sd if direction == "above" else mean - level.k * sd)
    return True, (max(bounds) if direction == "above" else min(bounds))


def classify(rule: Rule, value: float, rows: int, history: np.ndarray) -> Verdict:
    """Judge one window: insufficient data, ok, warning or critical.

    A level fires when the value is past its effective bound (strictly) **and**, when a baseline
    exists, differs from it by at least ``min_effect``. ``history`` holds the values of the past
    windows (NaN ignored); with fewer than three the dynamic part of a level cannot judge.
    """
    past = np.asarray(history, dtype=float)
    past = past[np.isfinite(past)]
    mean = float(past.mean()) if len(past) >= MIN_HISTORY else None
    sd = float(past.std(ddof=1)) if len(past) >= MIN_HISTORY else None
    _, warn = _bound(rule.warning, rule.direction, mean, sd)
    _, crit = _bound(rule.critical, rule.direction, mean, sd)
    if value is None or not math.isfinite(value) or rows < rule.min_rows:
        return Verdict("insufficient", float("nan") if value is None else float(value), int(rows), mean, warn, crit)
    effect_ok = mean is None or abs(value - mean) >= rule.min_effect

    def past_bound(bound: float | None) -> bool:
        return bound is not None and (value > bound if rule.direction == "above" else value < bound)

    status = "ok"
    if effect_ok and past_bound(crit):
        status = "critical"
    elif effect_ok and past_bound(warn):
        status = "warning"
    return Verdict(status, float(value), int(rows), mean, warn, crit)


@dataclass(frozen=True)
class Evaluation:
    """One rule, fingerprint and window with its verdict (what a pass writes to ``rule_evaluations``)."""

    rule: Rule
    version: str
    window_end: datetime
    verdict: Verdict

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.version)


def fingerprint(rule: Rule, version: str) -> str:
    """The identity of an alert: ``rule:model:version[:segment=value]``."""
    seg = f":{rule.segment}={rule.segment_value}" if rule.segment is not None else ""
    return f"{rule.rule_id}:{rule.model}:{version}{seg}"


@dataclass
class _Tally:
    """What a pass has done so far inside its write (counted afresh when the write is retried)."""

    evaluated: int = 0
    skipped: int = 0
    transitions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class MonitorReport:
    """What one pass did: evaluations written, alert transitions, notifications sent or failed, and time."""

    evaluated: int = 0
    skipped: int = 0
    transitions: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    throttled: int = 0
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """The pass in words (what ``vigil monitor`` prints)."""
        kinds: dict[str, int] = {}
        for t in self.transitions:
            kinds[t["kind"]] = kinds.get(t["kind"], 0) + 1
        changes = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no alert changed"
        lines = [f"evaluated {self.evaluated} rule windows ({self.skipped} already evaluated); {changes}; "
                 f"notifications: {self.sent} sent, {self.failed} failed, {self.throttled} throttled "
                 f"({self.seconds:.1f} s)"]
        return "\n".join(lines + self.messages)


def _ends(rule: Rule, at: datetime, since: datetime | None) -> list[datetime]:
    last = window_end_at(rule.window, at)
    if since is None:
        return [last]
    step = window_length(rule.window)
    first = window_end_at(rule.window, since)
    first = first if first >= since else first + step
    out, end = [], first
    while end <= last:
        out.append(end)
        end += step
    return out


def serving_versions(con: duckdb.DuckDBPyConnection, model: str, start: datetime, end: datetime) -> list[str]:
    """Versions serving as champion or canary at some time in ``[start, end)``."""
    return _Deployments(con, model).serving(start, end)


class _Deployments:
    """A model's champion and canary deployments, read once, asked per window."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: str) -> None:
        self.rows = con.execute("SELECT version, started_at, ended_at FROM deployments WHERE model_name = ? AND "
                                "role IN ('champion', 'canary')", [model]).fetchall()

    def serving(self, start: datetime, end: datetime) -> list[str]:
        return sorted({v for v, s, e in self.rows if s < end and (e is None or e > start)})


def plan(con: duckdb.DuckDBPyConnection, *, at: datetime, model: str | None, since: datetime | None
         ) -> list[tuple[Rule, str, list[datetime], dict[datetime, tuple[float, str]]]]:
    """Per enabled rule and version: the window ends still to evaluate (oldest first), and the windows
    already evaluated within the baseline's reach before them (value and status), so a pass does not
    recompute its history."""
    out = []
    deployments: dict[str, _Deployments] = {}
    for rule in rules(con, model=model, enabled_only=True):
        step = window_length(rule.window)
        ends = _ends(rule, at, since)
        if rule.model not in deployments:
            deployments[rule.model] = _Deployments(con, rule.model)
        per_version: dict[str, list[datetime]] = {}
        for end in ends:
            versions = [rule.version] if rule.version else deployments[rule.model].serving(end - step, end)
            for v in versions:
                per_version.setdefault(v, []).append(end)
        for version, wanted in per_version.items():
            done = {r[0] for r in con.execute(
                "SELECT window_end FROM rule_evaluations WHERE rule_id = ? AND fingerprint = ? AND window_end >= ?",
                [rule.rule_id, fingerprint(rule, version), min(wanted)]).fetchall()}
            todo = [e for e in wanted if e not in done]
            if todo:
                reach = min(todo) - step * (HISTORY_REACH * rule.history + 1)
                stored = {e: (v, st) for e, v, st in con.execute(
                    "SELECT window_end, value, status FROM rule_evaluations WHERE rule_id = ? AND fingerprint = ? "
                    "AND window_end >= ? AND window_end < ?",
                    [rule.rule_id, fingerprint(rule, version), reach, min(todo)]).fetchall()}
                out.append((rule, version, todo, stored))
    return out


def evaluate(cache: SeriesCache, rule: Rule, version: str, ends: list[datetime],
             stored: dict[datetime, tuple[float | None, str]] | None = None) -> list[Evaluation]:
    """Verdicts of the windows ending at ``ends``, each against the ``history`` windows before it.

    The baseline is the last ``history`` windows that did not breach: up to ``HISTORY_REACH`` times
    ``history`` windows before ``ends`` are judged first, in order, and a breaching window is left out
    of the baselines after it (so a long episode keeps firing instead of becoming the new normal).
    ``stored`` holds windows already evaluated (value and status): they are not recomputed.
    """
    stored = stored or {}
    step = window_length(rule.window)
    first = min(ends)
    history_ends = [first - step * i for i in range(HISTORY_REACH * rule.history, 0, -1)]
    frame = series(cache, rule, version, [e for e in history_ends if e not in stored] + list(ends))
    values = dict(zip(frame["window_end"], zip(frame["value"], frame["rows"])))
    wanted = set(ends)
    normal: list[float] = []
    out = []
    for end in sorted(set(history_ends) | wanted):
        if end in stored and end not in wanted:
            value, status = stored[end]
            if status == "ok" and value is not None:
                normal.append(float(value))
            continue
        value, rows = values.get(end, (float("nan"), 0))
        verdict = classify(rule, value, int(rows), np.asarray(normal[-rule.history:] if rule.history else [], dtype=float))
        if verdict.status == "ok":
            normal.append(verdict.value)
        if end in wanted:
            out.append(Evaluation(rule, version, end, verdict))
    return out


def monitor(db: str | Path | None = None, *, at: datetime | None = None, model: str | None = None,
            since: datetime | None = None, actor: Actor = MONITOR, send: bool = True,
            cache: SeriesCache | None = None) -> MonitorReport:
    """Evaluate every enabled rule for the windows not yet evaluated, step the alerts, and notify.

    Parameters
    ----------
    db : path, optional
        The store (default ``VIGIL_DB``).
    at : datetime, optional
        Naive UTC "now" (default: the clock). The last complete window at ``at`` is evaluated.
    model : str, optional
        Only this model's rules.
    since : datetime, optional
        Replay: evaluate every window ending after ``since`` up to ``at``, in order; events are dated
        at their window's end.
    actor : Actor
        Who the state changes are audited as.
    send : bool
        Send the queued notifications after the pass (the outbox keeps them otherwise).
    cache : SeriesCache, optional
        What earlier passes of one replay computed (see :class:`analytics.alerts._metrics.SeriesCache`).
    """
    import time

    started = time.perf_counter()
    path = Path(db) if db is not None else config.db_path()
    at = at or utc_now()
    todo = store.read(lambda con: plan(con, at=at, model=model, since=since), path)
    cache = cache if cache is not None else SeriesCache(path)
    evaluations: list[Evaluation] = []
    problems = []
    for rule, version, ends, stored in todo:
        try:
            evaluations.extend(evaluate(cache, rule, version, ends, stored))
        except VigilError as exc:  # one rule that cannot be evaluated does not stop the others; retried next pass
            problems.append(f"rule {rule.rule_id} ({version}) was not evaluated: {exc}")
    evaluations.sort(key=lambda e: (e.window_end, e.rule.rule_id, e.version))
    tally = _Tally()
    store.write(lambda con: _apply(con, actor, evaluations, at=at, replay=since is not None, report=tally), path)
    sent = _notify.dispatch(path, now=at) if send else _notify.DispatchResult()
    return MonitorReport(evaluated=tally.evaluated, skipped=tally.skipped, transitions=tally.transitions,
                         sent=sent.sent, failed=sent.failed, throttled=sent.throttled,
                         messages=problems + list(sent.messages), seconds=time.perf_counter() - started)


def _apply(con: duckdb.DuckDBPyConnection, actor: Actor, evaluations: list[Evaluation], *, at: datetime,
           replay: bool, report: _Tally) -> None:
    """Write the evaluations and step the alerts they touch, in window order (in the caller's transaction)."""
    report.evaluated, report.skipped, report.transitions = 0, 0, []
    if not evaluations:
        _escalate(con, actor, at, report)
        return
    first = min(e.window_end for e in evaluations)
    done = set(con.execute("SELECT rule_id, fingerprint, window_end FROM rule_evaluations WHERE window_end >= ?",
                           [first]).fetchall())
    open_fps = {r[0] for r in con.execute("SELECT fingerprint FROM alerts WHERE state <> 'resolved'").fetchall()}
    rows = []
    waiting = _escalate(con, actor, first, report) if replay else 1
    last_when = None
    for ev in evaluations:
        when = ev.window_end if replay else at
        if waiting and last_when is not None and when != last_when:
            waiting = _escalate(con, actor, when, report)  # as of the new time, before its evaluations
        last_when = when
        if (ev.rule.rule_id, ev.fingerprint, ev.window_end) in done:
            report.skipped += 1
            continue
        v = ev.verdict
        rows.append((ev.rule.rule_id, ev.fingerprint, ev.window_end - window_length(ev.rule.window), ev.window_end,
                     ev.rule.model, ev.version, ev.rule.segment_value, _finite(v.value), v.baseline, v.rows, v.status,
                     v.warning_bound, v.critical_bound, when))
        report.evaluated += 1
        if v.status in ("warning", "critical") or ev.fingerprint in open_fps:
            before = len(report.transitions)
            _step(con, actor, ev, when, report)
            if _open_alert(con, ev.fingerprint) is None:
                open_fps.discard(ev.fingerprint)
            else:
                open_fps.add(ev.fingerprint)
            if len(report.transitions) > before:
                waiting = 1
    if rows:
        frame = pd.DataFrame(rows, columns=["rule_id", "fingerprint", "window_start", "window_end", "model_name",
                                            "version", "segment_value", "value", "baseline", "rows", "status",
                                            "warning_bound", "critical_bound", "evaluated_at"])
        con.register("_vigil_evaluations", frame)
        try:
            con.execute("INSERT INTO rule_evaluations (rule_id, fingerprint, window_start, window_end, model_name, version, segment_value, value, baseline, rows, status, warning_bound, critical_bound, evaluated_at) "
                "SELECT * FROM _vigil_evaluations")
        finally:
            con.unregister("_vigil_evaluations")
    _escalate(con, actor, last_when or at, report)


def _t(report: _Tally | None) -> list | None:
    return None if report is None else report.transitions


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _open_alert(con: duckdb.DuckDBPyConnection, fp: str) -> dict | None:
    frame = con.execute("SELECT * FROM alerts WHERE fingerprint = ? AND state <> 'resolved'", [fp]).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def _step(con: duckdb.DuckDBPyConnection, actor: Actor, ev: Evaluation, when: datetime, report: _Tally) -> None:
    rule, v = ev.rule, ev.verdict
    if v.status == "insufficient":
        return
    alert = _open_alert(con, ev.fingerprint)
    step = window_length(rule.window)
    facts = {"rule": rule.rule_id, "value": _finite(v.value), "rows": v.rows, "window_end": ev.window_end}
    if v.status in ("warning", "critical"):
        bound = v.critical_bound if v.status == "critical" else v.warning_bound
        if alert is None:
            state = "firing" if rule.for_windows <= 1 else "pending"
            alert_id = con.execute("SELECT nextval('alert_id_seq')").fetchone()[0]
            con.execute("INSERT INTO alerts (alert_id, fingerprint, rule_id, model_name, version, segment_value, "
                        "family, severity, state, value, bound, window_start, window_end, opened_at, updated_at, "
                        "breaches, clears) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
                        [alert_id, ev.fingerprint, rule.rule_id, rule.model, ev.version, rule.segment_value,
                         rule.family, v.status, "pending", _finite(v.value), bound, ev.window_end - step, ev.window_end, when,
                         when])
            event(con, actor, alert_id, "pending", when, {**facts, "severity": v.status}, _t(report))
            if state == "firing":
                _fire(con, actor, alert_id, rule, when, report, facts)
            return
        alert_id = int(alert["alert_id"])
        escalated = v.status == "critical" and alert["severity"] == "warning"
        severity = "critical" if escalated else alert["severity"]
        con.execute("UPDATE alerts SET breaches = breaches + 1, clears = 0, value = ?, bound = ?, severity = ?, "
                    "window_end = ?, updated_at = ? WHERE alert_id = ?",
                    [_finite(v.value), bound, severity, ev.window_end, when, alert_id])
        if alert["state"] == "pending" and int(alert["breaches"]) + 1 >= rule.for_windows:
            _fire(con, actor, alert_id, rule, when, report, facts)
        elif escalated and alert["state"] in ("firing", "acknowledged"):
            event(con, actor, alert_id, "severity_raised", when, {**facts, "severity": "critical"}, _t(report))
            con.execute("UPDATE alerts SET state = 'firing' WHERE alert_id = ?", [alert_id])
            _after_fire(con, actor, alert_id, rule, when, "firing")
        elif alert["state"] == "acknowledged":
            refire = float(settings.get(con, REFIRE_HOURS.key, model=rule.model))
            acked = alert["acknowledged_at"]
            if acked is not None and when - acked.to_pydatetime() >= timedelta(hours=refire):
                con.execute("UPDATE alerts SET state = 'firing', fired_at = ?, escalated_at = NULL WHERE alert_id = ?",
                            [when, alert_id])
                event(con, actor, alert_id, "refired", when, {**facts, "acknowledged_at": acked}, _t(report))
                _after_fire(con, actor, alert_id, rule, when, "firing")
        return
    if alert is None:
        return
    alert_id = int(alert["alert_id"])
    clears = int(alert["clears"]) + 1
    con.execute("UPDATE alerts SET clears = ?, updated_at = ? WHERE alert_id = ?", [clears, when, alert_id])
    if alert["state"] == "pending":
        resolve_alert(con, actor, alert_id, when, "cleared before it fired", report, notify=False)
    elif clears > rule.keep_firing_for:
        resolve_alert(con, actor, alert_id, when, "condition cleared", report, notify=True)


def _fire(con, actor: Actor, alert_id: int, rule: Rule, when: datetime, report: _Tally, facts: dict) -> None:
    incident = _incident_for(con, rule, when)
    con.execute("UPDATE alerts SET state = 'firing', fired_at = ?, incident_id = ? WHERE alert_id = ?",
                [when, incident, alert_id])
    event(con, actor, alert_id, "firing", when, {**facts, "incident_id": incident}, _t(report))
    _after_fire(con, actor, alert_id, rule, when, "firing")


def _after_fire(con, actor: Actor, alert_id: int, rule: Rule, when: datetime, kind: str) -> None:
    """Mute, notify, and act for an alert that (re)fired."""
    alert = con.execute("SELECT * FROM alerts WHERE alert_id = ?", [alert_id]).df().iloc[0].to_dict()
    muted = muted_by(con, alert, when)
    con.execute("UPDATE alerts SET muted_by = ? WHERE alert_id = ?", [muted, alert_id])
    if muted:
        event(con, actor, alert_id, "muted", when, {"by": muted}, audited=False)
    else:
        _notify.enqueue(con, alert, rule, kind, when)
    if alert["severity"] == "critical" and rule.action:
        _intervention.act(con, actor, alert, rule, when)


def muted_by(con: duckdb.DuckDBPyConnection, alert: dict, when: datetime) -> str | None:
    """What mutes an alert at ``when``: an active silence, or a firing freshness alert of its model (inhibition)."""
    silence = con.execute(
        "SELECT silence_id FROM silences WHERE model_name = ? AND (rule_id IS NULL OR rule_id = ?) "
        "AND starts_at <= ? AND ends_at > ? ORDER BY silence_id LIMIT 1",
        [alert["model_name"], alert["rule_id"], when, when]).fetchone()
    if silence:
        return f"silence {silence[0]}"
    if alert["family"] in INHIBITED_BY_FRESHNESS:
        stale = con.execute("SELECT fingerprint FROM alerts WHERE model_name = ? AND family = 'freshness' AND "
                            "state IN ('firing', 'acknowledged') LIMIT 1", [alert["model_name"]]).fetchone()
        if stale:
            return f"inhibited by stale data ({stale[0]})"
    return None


def _incident_for(con: duckdb.DuckDBPyConnection, rule: Rule, when: datetime) -> int:
    row = con.execute("SELECT incident_id, severity FROM incidents WHERE model_name = ? AND family = ? AND "
                      "resolved_at IS NULL ORDER BY incident_id DESC LIMIT 1", [rule.model, rule.family]).fetchone()
    severity = "critical" if rule.critical is not None else "warning"
    if row:
        return int(row[0])
    incident = con.execute("SELECT nextval('incident_id_seq')").fetchone()[0]
    con.execute("INSERT INTO incidents (incident_id, model_name, family, title, severity, opened_at, resolved_at, resolution_note) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                [incident, rule.model, rule.family, f"{rule.family} on {rule.model}", severity, when])
    return int(incident)


def resolve_alert(con: duckdb.DuckDBPyConnection, actor: Actor, alert_id: int, when: datetime, note: str,
                  report: _Tally | None = None, *, notify: bool = True) -> None:
    """Resolve an open alert with a note; close its incident when it was the last open alert. Audited."""
    alert = con.execute("SELECT * FROM alerts WHERE alert_id = ?", [alert_id]).df().iloc[0].to_dict()
    con.execute("UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolution_note = ?, "
                "updated_at = ? WHERE alert_id = ?", [when, actor.username, note, when, alert_id])
    event(con, actor, alert_id, "resolved", when, {"note": note, "rule": alert["rule_id"]}, _t(report))
    if notify and alert["fired_at"] is not None and not _is_nat(alert["fired_at"]) and not alert["muted_by"]:
        _notify.enqueue(con, {**alert, "state": "resolved"}, get_rule(con, alert["rule_id"]), "resolved", when)
    incident = alert["incident_id"]
    if incident is not None and not _is_nat(incident):
        still = con.execute("SELECT count(*) FROM alerts WHERE incident_id = ? AND state <> 'resolved'",
                            [int(incident)]).fetchone()[0]
        if not still:
            con.execute("UPDATE incidents SET resolved_at = ?, resolution_note = ? WHERE incident_id = ?",
                        [when, note, int(incident)])


def _is_nat(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN / NaT
    except TypeError:
        return False


def _escalate(con: duckdb.DuckDBPyConnection, actor: Actor, when: datetime, report: _Tally) -> int:
    """Critical alerts firing unacknowledged past ``alerts.escalate_after_minutes`` go to the escalation channels.

    Returns how many critical alerts still wait (0: nothing to check until an alert changes).
    """
    rows = con.execute("SELECT alert_id, model_name, rule_id, fired_at FROM alerts WHERE state = 'firing' AND "
                       "severity = 'critical' AND escalated_at IS NULL AND fired_at IS NOT NULL AND "
                       "muted_by IS NULL").fetchall()
    waiting = 0
    for alert_id, model, rule_id, fired_at in rows:
        wait = float(settings.get(con, ESCALATE_MINUTES.key, model=model))
        if when - fired_at < timedelta(minutes=wait):
            waiting += 1
            continue
        con.execute("UPDATE alerts SET escalated_at = ? WHERE alert_id = ?", [when, alert_id])
        event(con, actor, alert_id, "escalated", when, {"unacknowledged_minutes": (when - fired_at).total_seconds() / 60},
              _t(report))
        alert = con.execute("SELECT * FROM alerts WHERE alert_id = ?", [alert_id]).df().iloc[0].to_dict()
        _notify.enqueue(con, alert, get_rule(con, rule_id), "escalation", when)
    return waiting
