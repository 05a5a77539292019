"""Governance: the lifecycle state machine, approvals with four eyes, evidence packs, deployments,
model cards and risk tiers, and the dossier.

Public API
----------
State machine
    :data:`STATES`, :data:`TRANSITIONS`, :func:`next_states`, :func:`check_step`, :func:`transition`, :func:`onboard`,
    :func:`authors`, :func:`check_four_eyes`,
    :class:`IllegalTransitionError`, :class:`FourEyesError`.
Actions (each in the caller's write transaction, with its audit row)
    :func:`submit`, :func:`start_review`, :func:`record_finding`, :func:`approve`, :func:`reject`,
    :func:`deploy_shadow`, :func:`start_canary`, :func:`end_canary`, :func:`promote`, :func:`rollback`, :func:`retire`.
Evidence
    :func:`assemble` runs the :data:`CHECKS` registered with :func:`register_check`; :func:`latest_pack`.
Records
    :func:`set_model_card`, :func:`model_card`, :func:`set_risk_tier`, :func:`risk_tier`,
    :func:`parse_card`, :func:`apply_card`, :func:`card_to_toml` (a card file in TOML), :func:`registry_table`, :func:`deployment_history`, :func:`approval_history`, :func:`findings`,
    :func:`queue`.
Dossier
    :func:`dossier_html`, :func:`html_to_pdf`.
"""

from analytics.governance._actions import (SEVERITIES, approve, deploy_shadow, end_canary, previous_champion, promote,
                                           record_finding, reject, retire, rollback, start_canary, start_review,
                                           submit)
from analytics.governance._cards import CardFile, apply_card, card_to_toml, parse_card
from analytics.governance._dossier import dossier_html, html_to_pdf, svg_chart
from analytics.governance._evidence import (CHECKS, FAIL, NOT_EVALUATED, PASS, CheckResult, EvidenceCheck,
                                            EvidenceContext, EvidencePack, assemble, evidence_for, latest_pack, register_check,
                                            store_pack)
from analytics.governance._lifecycle import (STATES, TRANSITIONS, FourEyesError, IllegalTransitionError, Step,
                                             authors, check_four_eyes, check_step, next_states, onboard, submitter,
                                             transition)
from analytics.governance._records import (CARD_FIELDS, QUEUES, RISK_TIERS, approval_history, deployment_history,
                                           findings, model_card, queue, registry_table, risk_tier, set_model_card,
                                           set_risk_tier)

__all__ = [
    "CARD_FIELDS", "CHECKS", "CardFile", "apply_card", "card_to_toml", "parse_card", "FAIL", "NOT_EVALUATED", "PASS", "QUEUES", "RISK_TIERS", "SEVERITIES", "STATES",
    "TRANSITIONS", "CheckResult", "EvidenceCheck", "EvidenceContext", "EvidencePack", "FourEyesError",
    "IllegalTransitionError", "Step", "approval_history", "authors", "check_four_eyes", "approve", "assemble", "check_step", "deploy_shadow",
    "deployment_history", "dossier_html", "end_canary", "evidence_for", "findings", "html_to_pdf", "latest_pack", "model_card", "next_states",
    "previous_champion", "promote", "queue", "record_finding", "register_check", "registry_table", "reject",
    "retire", "risk_tier", "rollback", "set_model_card", "set_risk_tier", "start_canary", "start_review",
    "onboard", "store_pack", "submit", "submitter", "svg_chart", "transition",
]
