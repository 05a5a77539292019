"""Notification channels and the outbox: who is told, in which shape, once.

Channels (``channels`` table, managed by admins; the secret is never shown back):

``webhook``
    POST of the alert as JSON, signed with HMAC-SHA256 of the body under the channel's secret in the
    header ``X-Vigil-Signature: sha256=<hex>`` (GitHub's convention).
``slack``
    POST of ``{"text": ...}`` to a Slack-compatible incoming-webhook URL.
``pagerduty``
    POST of a PagerDuty Events API v2 event: ``routing_key`` (the secret), ``event_action``
    ``trigger`` / ``acknowledge`` / ``resolve``, ``dedup_key`` the alert's fingerprint.
``email``
    A plain-text message over SMTP to the target address; STARTTLS and login when configured
    (options ``host``, ``port``, ``sender``, ``starttls``, ``username``; the password is the secret).

Options of any channel: ``models`` (a list; default every model), ``min_severity`` (``warning`` or
``critical``), ``escalation`` (true: only escalations go there; false: never).

A state change queues its notifications in the ``notifications`` outbox inside its own transaction
(only the first firing of an episode, its escalation, re-firing, and its resolution: never one per
breaching window); :func:`dispatch` sends them after the transaction. A failed send is retried with
back-off (1, 2, 4, 8 minutes, then given up); a channel failing :data:`DISABLE_AFTER` times in a row
is disabled and the audit trail says so. At most ``alerts.max_notifications_per_model_day``
notifications per model and UTC day are sent; the rest are kept as ``throttled``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pandas as pd

from analytics import audit, settings, store
from analytics.addresses import check_email_address
from analytics.alerts._rules import Rule
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.roles import Actor, require

KINDS: tuple[str, ...] = ("webhook", "slack", "pagerduty", "email")
NOTICES: tuple[str, ...] = ("firing", "escalation", "resolved", "acknowledged", "test", "reminder")
DISABLE_AFTER = 10
MAX_ATTEMPTS = 5
TIMEOUT_SECONDS = 10.0
SYSTEM = Actor("svc:monitor", "system")

MAX_PER_DAY = settings.declare("alerts.max_notifications_per_model_day", 50, "Notifications sent per model and "
                               "UTC day at most; later ones are kept as throttled (alert fatigue)",
                               unit="notifications", minimum=1)


def _check_target(kind: str, target: str) -> str:
    target = (target or "").strip()
    if kind == "email":
        return check_email_address(target)
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"{target!r} is not an http(s) URL; a {kind} channel posts to a URL")
    return target


def add_channel(con: duckdb.DuckDBPyConnection, actor: Actor, name: str, kind: str, target: str, *,
                secret: str | None = None, options: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Add a notification channel (admins). Audited without the secret or the target's path and query."""
    require(actor, "manage_channels")
    if kind not in KINDS:
        raise InvalidInputError(f"channel kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    if not name or len(name) > 64:
        raise InvalidInputError("a channel needs a name of 1 to 64 characters")
    target = _check_target(kind, target)
    options = dict(options or {})
    unknown = sorted(set(options) - {"models", "min_severity", "escalation", "host", "port", "sender", "starttls",
                                     "username", "team"})
    if unknown:
        raise InvalidInputError(f"unknown channel options: {', '.join(unknown)}")
    if options.get("min_severity", "warning") not in ("warning", "critical"):
        raise InvalidInputError("min_severity is warning or critical")
    if kind == "email" and not options.get("host"):
        raise InvalidInputError("an email channel needs the SMTP host (option host, and port)")
    if kind == "pagerduty" and not secret:
        raise InvalidInputError("a pagerduty channel needs its routing key as the secret")
    if con.execute("SELECT 1 FROM channels WHERE name = ?", [name]).fetchone():
        raise InvalidInputError(f"a channel named {name!r} exists; remove it first or choose another name")
    con.execute("INSERT INTO channels (name, kind, target, secret, options, enabled, failures, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, TRUE, 0, ?, ?)",
                [name, kind, target, secret, json.dumps(options, sort_keys=True), at or utc_now(), actor.username])
    audit.record(con, actor, "channel.add", "channel", name,
                 {"kind": kind, "target": masked_target(kind, target), "secret": bool(secret), "options": options},
                 at=at)


def remove_channel(con: duckdb.DuckDBPyConnection, actor: Actor, name: str) -> None:
    """Remove a channel (admins). Its past notifications stay in the outbox. Audited."""
    require(actor, "manage_channels")
    _channel(con, name)
    con.execute("DELETE FROM channels WHERE name = ?", [name])
    audit.record(con, actor, "channel.remove", "channel", name, {})


def masked_target(kind: str, target: str) -> str:
    """A target safe to show to anyone: the scheme and host of a URL (incoming-webhook paths are secrets)."""
    if kind == "email":
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") or parts.query else target


def channels_table(con: duckdb.DuckDBPyConnection, actor: Actor) -> pd.DataFrame:
    """Channels with kind, target (whole only for those who manage channels), options and health; never the secret."""
    frame = con.execute("SELECT name, kind, target, secret IS NOT NULL AS has_secret, options, enabled, failures, "
                        "created_at, created_by FROM channels ORDER BY name").df()
    if not actor.can("manage_channels"):
        frame["target"] = [masked_target(k, t) for k, t in zip(frame["kind"], frame["target"])]
    return frame


def _channel(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any]:
    frame = con.execute("SELECT * FROM channels WHERE name = ?", [name]).df()
    if frame.empty:
        raise NotFoundError(f"no channel {name!r}; 'vigil channels list' shows them")
    row = frame.iloc[0].to_dict()
    row["options"] = json.loads(row["options"])
    return row


def _routes(channel: dict[str, Any], model: str, severity: str, notice: str) -> bool:
    options = channel["options"]
    if options.get("models") and model not in options["models"]:
        return False
    if options.get("min_severity") == "critical" and severity != "critical":
        return False
    escalation = options.get("escalation")
    if notice == "escalation":
        return escalation is True
    return escalation is not True


def payload(alert: dict[str, Any], rule: Rule, notice: str) -> dict[str, Any]:
    """The notification's content, the same for every channel kind (each shapes it its own way)."""
    value = alert.get("value")
    bound = alert.get("bound")
    words = {"firing": "FIRING", "escalation": "ESCALATED (not acknowledged)", "resolved": "RESOLVED",
             "acknowledged": "ACKNOWLEDGED", "test": "TEST"}[notice]
    summary = (f"[{words}] {str(alert['severity']).upper()} {rule.model} {alert['version']}: {rule.metric}"
               f"{' ' + rule.column if rule.column else ''} = {_num(value)} ({rule.direction} bound {_num(bound)}), "
               f"window ending {pd.Timestamp(alert['window_end']):%Y-%m-%d %H:%M} UTC")
    return {"notice": notice, "alert_id": int(alert["alert_id"]), "fingerprint": alert["fingerprint"],
            "model": rule.model, "version": alert["version"], "segment_value": alert.get("segment_value"),
            "rule": rule.rule_id, "metric": rule.metric, "column": rule.column, "severity": alert["severity"],
            "state": alert["state"], "value": _plain(value), "bound": _plain(bound),
            "window_end": str(pd.Timestamp(alert["window_end"])), "runbook": rule.runbook, "summary": summary}


def _plain(x: Any) -> Any:
    try:
        return None if x is None or x != x else float(x)
    except TypeError:
        return None


def _num(x: Any) -> str:
    v = _plain(x)
    return "n/a" if v is None else f"{v:.4g}"


def enqueue(con: duckdb.DuckDBPyConnection, alert: dict[str, Any], rule: Rule, notice: str, when: datetime) -> int:
    """Queue ``notice`` of an alert to every enabled channel routed to it (in the caller's transaction)."""
    return enqueue_notice(con, payload(alert, rule, notice), when, alert_id=int(alert["alert_id"]))


def enqueue_notice(con: duckdb.DuckDBPyConnection, body: dict[str, Any], when: datetime, *,
                   alert_id: int | None = None) -> int:
    """Queue a notification ``body`` to every enabled channel routed to it (in the caller's transaction).

    ``body`` carries at least ``notice`` (one of :data:`NOTICES`), ``model``, ``severity``, ``fingerprint``
    (PagerDuty's dedup key) and ``summary`` (the one line every channel shows). Compliance reminders
    (a reporting deadline nearing, a review due) are queued this way without an alert. Returns how many
    notifications were queued.
    """
    notice, model = body["notice"], body["model"]
    if notice not in NOTICES:
        raise InvalidInputError(f"notice {notice!r} is unknown; use one of {', '.join(NOTICES)}")
    queued = 0
    for (name,) in con.execute("SELECT name FROM channels WHERE enabled ORDER BY name").fetchall():
        channel = _channel(con, name)
        if not _routes(channel, model, str(body["severity"]), notice):
            continue
        con.execute("INSERT INTO notifications (notification_id, alert_id, channel, kind, model_name, payload, queued_at, status, attempts, next_attempt_at, sent_at, detail) "
                    "VALUES (nextval('notification_id_seq'), ?, ?, ?, ?, ?, ?, 'queued', 0, "
                    "?, NULL, NULL)", [alert_id, name, notice, model, json.dumps(body, default=str), when, when])
        queued += 1
    return queued


# --- sending -----------------------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> str:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) checked on add
        return f"HTTP {response.status}"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Vigil-Signature`` header of a webhook body: ``sha256=`` and the HMAC-SHA256 hex digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(channel: dict[str, Any], body: dict[str, Any]) -> str:
    """Deliver one notification to one channel; return a short receipt, raise on failure."""
    kind, target, secret = channel["kind"], channel["target"], channel.get("secret")
    if kind == "webhook":
        raw = json.dumps(body, sort_keys=True).encode()
        return _post(target, raw, {"X-Vigil-Signature": signature(secret, raw)} if secret else {})
    if kind == "slack":
        return _post(target, json.dumps({"text": body["summary"]}).encode(), {})
    if kind == "pagerduty":
        action = {"resolved": "resolve", "acknowledged": "acknowledge"}.get(body["notice"], "trigger")
        event = {"routing_key": secret, "event_action": action, "dedup_key": body["fingerprint"]}
        if action == "trigger":
            event["payload"] = {"summary": body["summary"][:1024], "source": f"vigil:{body['model']}",
                                "severity": "critical" if body["severity"] == "critical" else "warning",
                                "custom_details": body}
        return _post(target, json.dumps(event).encode(), {})
    message = EmailMessage()
    message["Subject"] = body["summary"][:200]
    message["To"] = target
    message.set_content(body["summary"] + "\n\n" + json.dumps(body, indent=2, sort_keys=True) +
                        (f"\n\nRunbook: {body['runbook']}" if body.get("runbook") else ""))
    return send_email(channel, message)


def send_email(channel: dict[str, Any], message: EmailMessage) -> str:
    """Send ``message`` through an e-mail channel's SMTP server (STARTTLS and login when configured).

    Parameters
    ----------
    channel : dict
        An ``email`` channel as stored (see :func:`email_channel`): its options give ``host``, ``port``,
        ``sender``, ``starttls`` and ``username``; the secret is the SMTP password.
    message : email.message.EmailMessage
        The message, with its recipients in ``To``; ``From`` defaults to the channel's sender.

    Returns
    -------
    str
        A short receipt; raises ``OSError`` or ``smtplib.SMTPException`` when the server refuses.
    """
    options = channel["options"]
    if "From" not in message:
        message["From"] = options.get("sender", "vigil@localhost")
    with smtplib.SMTP(options["host"], int(options.get("port", 25)), timeout=TIMEOUT_SECONDS) as smtp:
        if options.get("starttls"):
            smtp.starttls()
        if options.get("username"):
            smtp.login(options["username"], channel.get("secret") or "")
        smtp.send_message(message)
    return "accepted by SMTP"


def email_channel(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any]:
    """The stored ``email`` channel ``name`` (with its secret, for sending only); a clear error otherwise."""
    channel = _channel(con, name)
    if channel["kind"] != "email":
        raise InvalidInputError(f"channel {name!r} is a {channel['kind']} channel; reports are sent through an "
                                "email channel ('vigil channels add NAME --kind email --target ADDRESS --option host=HOST --option port=PORT')")
    return channel


@dataclass(frozen=True, kw_only=True)
class DispatchResult:
    """Notifications sent, failed (this attempt) and throttled by one :func:`dispatch`, and what an admin must know."""

    sent: int = 0
    failed: int = 0
    throttled: int = 0
    messages: list[str] = field(default_factory=list)


def dispatch(db: str | Path | None = None, *, now: datetime | None = None) -> DispatchResult:
    """Send every queued notification that is due; record each outcome (retries, throttling, disabling)."""
    now = now or utc_now()
    sent = failed = throttled = 0
    messages: list[str] = []

    def due(con):
        return con.execute("SELECT n.notification_id, n.channel, n.model_name, n.payload, n.attempts, n.queued_at "
                           "FROM notifications n JOIN channels c ON c.name = n.channel WHERE n.status = 'queued' "
                           "AND c.enabled AND n.next_attempt_at <= ? ORDER BY n.notification_id", [now]).fetchall()

    for notification_id, name, model, body, attempts, queued_at in store.read(due, db):
        def throttle(con) -> bool:
            cap = int(settings.get(con, MAX_PER_DAY.key, model=model))
            day = queued_at.replace(hour=0, minute=0, second=0, microsecond=0)
            already = con.execute("SELECT count(*) FROM notifications WHERE model_name = ? AND status = 'sent' AND "
                               "queued_at >= ? AND queued_at < ?", [model, day, day + timedelta(days=1)]).fetchone()[0]
            if already >= cap:
                con.execute("UPDATE notifications SET status = 'throttled', detail = ? WHERE notification_id = ?",
                            [f"over {cap} notifications for {model} that day", notification_id])
                return True
            return False

        if store.write(throttle, db):
            throttled += 1
            continue
        channel = store.read(lambda con: _channel(con, name), db)
        if not channel["enabled"]:  # disabled by an earlier failure of this dispatch
            continue
        try:
            receipt = send(channel, json.loads(body))
            error = None
        except (OSError, urllib.error.URLError, smtplib.SMTPException, ValueError) as exc:
            receipt, error = None, f"{type(exc).__name__}: {exc}"[:500]

        def record(con) -> str | None:
            if error is None:
                con.execute("UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = ?, detail = ? "
                            "WHERE notification_id = ?", [now, receipt, notification_id])
                con.execute("UPDATE channels SET failures = 0 WHERE name = ?", [name])
                return None
            tries = attempts + 1
            status = "failed" if tries >= MAX_ATTEMPTS else "queued"
            con.execute("UPDATE notifications SET status = ?, attempts = ?, next_attempt_at = ?, detail = ? "
                        "WHERE notification_id = ?",
                        [status, tries, now + timedelta(minutes=2 ** (tries - 1)), error, notification_id])
            failures = con.execute("UPDATE channels SET failures = failures + 1 WHERE name = ? RETURNING failures",
                                   [name]).fetchone()[0]
            if failures >= DISABLE_AFTER:
                con.execute("UPDATE channels SET enabled = FALSE WHERE name = ?", [name])
                audit.record(con, SYSTEM, "channel.disable", "channel", name,
                             {"failures_in_a_row": int(failures), "last_error": error}, at=now)
                return (f"channel {name} failed {failures} times in a row and was disabled; an admin should check "
                        f"it ('vigil channels test {name}') and add it again")
            return None

        message = store.write(record, db)
        if error is None:
            sent += 1
        else:
            failed += 1
        if message:
            messages.append(message)
    return DispatchResult(sent=sent, failed=failed, throttled=throttled, messages=messages)


def try_channel(db: str | Path | None, actor: Actor, name: str) -> str:
    """Send a test notification to a channel now (admins); return the receipt or raise with the error."""
    channel = store.read(lambda con: (require(actor, "manage_channels"), _channel(con, name))[1], db)
    body = {"notice": "test", "alert_id": 0, "fingerprint": f"test:{name}", "model": "-", "version": "-",
            "rule": "-", "metric": "-", "severity": "warning", "state": "test",
            "summary": f"[TEST] Vigil test notification to channel {name}"}
    try:
        return send(channel, body)
    except (OSError, urllib.error.URLError, smtplib.SMTPException) as exc:
        raise InvalidInputError(f"channel {name} failed: {type(exc).__name__}: {exc}") from None


def notifications_table(con: duckdb.DuckDBPyConnection, *, alert_id: int | None = None) -> pd.DataFrame:
    """The outbox (of one alert): channel, notice, status, attempts, when queued and sent, detail."""
    clause, params = ("WHERE alert_id = ?", [alert_id]) if alert_id is not None else ("", [])
    return con.execute("SELECT notification_id, alert_id, channel, kind AS notice, model_name AS model, status, "
                       f"attempts, queued_at, sent_at, detail FROM notifications {clause} ORDER BY notification_id",
                       params).df()
