"""Compliance reporting: scheduled reports with verifiable manifests, retention of records, and exports
of a window's records for an authority.

Scheduled reports (:func:`run_reports`): a :class:`ReportDefinition` (one model or the portfolio, a
daily, weekly or monthly schedule, sections, recipients) is rendered for its last closed period as
self-contained HTML and PDF plus a JSON manifest (window, code version, thresholds in force, sha256 of
each file); the manifest's sha256 goes into the audit trail with the run, and the files are e-mailed
through an e-mail channel. :func:`verify_run` checks a past report against that hash.

Retention (:func:`set_policy`, :func:`apply_retention`): per model, days of prediction logs, outcomes and
audit trail, at least six months (EU AI Act Art. 19(1), 26(6)) unless an admin overrides with a reason;
whole expired segments are removed and the removal audited; the audit trail is never deleted.

Records export (:func:`export_records`): a window's predictions with version, inputs, outputs and
outcomes, as Parquet and CSV with a manifest, for a competent authority.

See docs/reports.md.
"""

from analytics.reports._definitions import (PORTFOLIO, SECTIONS, ReportDefinition, definitions_table, delete_definition,
                                            get_definition, list_definitions, save_definition)
from analytics.reports._periods import SCHEDULES, Period, last_closed_period
from analytics.reports._records import OVERRIDES_LOGGED, OVERRIDES_NOTE, RecordsExport, export_records
from analytics.reports._render import MANIFEST, code_version, sha256_file
from analytics.reports._retention import (DEFAULTS, LEGAL_FLOOR_DAYS, ModelRemoval, RetentionPolicy, get_policy,
                                          policies_table, set_policy)
from analytics.reports._retention import apply as apply_retention
from analytics.reports._run import (ALREADY_RUN, ALTERED, FAILED, MISSING, NOT_SENT, RENDERED, SENT, VERIFIED,
                                    ReportRun, Verification, deliver, render, report_file, reports_dir, run_reports,
                                    runs_table, verify_run)
from analytics.reports._sections import BACKTEST_WEEKS, Section, build_section

__all__ = [
    "ALREADY_RUN", "ALTERED", "BACKTEST_WEEKS", "DEFAULTS", "FAILED", "LEGAL_FLOOR_DAYS", "MANIFEST", "MISSING",
    "NOT_SENT", "OVERRIDES_LOGGED", "OVERRIDES_NOTE", "PORTFOLIO", "RENDERED", "SCHEDULES", "SECTIONS", "SENT", "VERIFIED",
    "ModelRemoval", "Period", "RecordsExport", "ReportDefinition", "ReportRun", "RetentionPolicy", "Section",
    "Verification", "apply_retention", "build_section", "code_version", "definitions_table", "delete_definition",
    "deliver", "export_records", "get_definition", "get_policy", "last_closed_period", "list_definitions",
    "policies_table", "render", "report_file", "reports_dir", "run_reports", "runs_table", "save_definition",
    "set_policy", "sha256_file", "verify_run",
]
