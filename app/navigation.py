"""The page table: every page, its navigation group and the capability needed to see it.

To add a page, write ``pages/<name>.py`` and add one line to :data:`PAGES`::

    PageSpec("pages/drift.py", "Drift", ":material/ssid_chart:", "Monitor", "read", per_model=True),

:func:`build` turns the table into ``st.navigation`` sections for one signed-in actor on every
rerun. A page whose capability the actor lacks is not registered at all, so its URL cannot be
reached (Streamlit falls back to the default page) and ``st.switch_page`` to it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analytics.roles import CAPABILITIES, Actor

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Navigation groups, in menu order.
GROUPS: tuple[str, ...] = ("Monitor", "Investigate", "Business", "Govern", "Admin")


@dataclass(frozen=True)
class PageSpec:
    """One page of the app.

    Parameters
    ----------
    path : str
        The page script, relative to the repository root (``"pages/overview.py"``).
    title : str
        Title in the navigation menu and the browser tab.
    icon : str
        A Material icon (``":material/dashboard:"``) or an emoji.
    group : str
        One of :data:`GROUPS`.
    capability : str
        The capability (see :data:`analytics.roles.CAPABILITIES`) a role needs to see the page.
    per_model : bool
        The page shows one model from the context; the Overview links each model to it.
    default : bool
        The page opened after sign-in (exactly one page).
    """

    path: str
    title: str
    icon: str
    group: str
    capability: str
    per_model: bool = False
    default: bool = False

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"page {self.path}: group {self.group!r} is not one of {GROUPS}")
        if self.capability not in CAPABILITIES:
            raise ValueError(f"page {self.path}: capability {self.capability!r} is unknown")

    @property
    def file(self) -> Path:
        """Absolute path of the page script."""
        return REPO_ROOT / self.path

    @property
    def url_path(self) -> str:
        """The page's URL path (its file name without ``.py``)."""
        return Path(self.path).stem


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:", "Monitor", "read", default=True),
    PageSpec("pages/drift.py", "Drift", ":material/ssid_chart:", "Monitor", "read", per_model=True),
    PageSpec("pages/performance.py", "Performance", ":material/monitoring:", "Monitor", "read", per_model=True),
    PageSpec("pages/fairness.py", "Fairness", ":material/balance:", "Monitor", "read", per_model=True),
    PageSpec("pages/alerts.py", "Alerts", ":material/notifications_active:", "Monitor", "read"),
    PageSpec("pages/incidents.py", "Incidents", ":material/emergency:", "Monitor", "read"),
    PageSpec("pages/service_levels.py", "Service levels", ":material/timer:", "Monitor", "read"),
    PageSpec("pages/kpis.py", "KPIs", ":material/payments:", "Business", "read", per_model=True),
    PageSpec("pages/cost_latency.py", "Cost and latency", ":material/speed:", "Business", "read", per_model=True),
    PageSpec("pages/explanations.py", "Explanations", ":material/psychology:", "Investigate", "investigate", per_model=True),
    PageSpec("pages/counterfactuals.py", "Counterfactuals", ":material/alt_route:", "Investigate", "investigate", per_model=True),
    PageSpec("pages/lookup.py", "Prediction lookup", ":material/manage_search:", "Investigate", "investigate", per_model=True),
    PageSpec("pages/registry.py", "Registry", ":material/inventory_2:", "Govern", "read", per_model=True),
    PageSpec("pages/approvals.py", "Approvals", ":material/approval:", "Govern", "submit_for_review"),
    PageSpec("pages/deployments.py", "Deployments", ":material/call_split:", "Govern", "read", per_model=True),
    PageSpec("pages/compliance.py", "Compliance", ":material/gavel:", "Govern", "read", per_model=True),
    PageSpec("pages/rules.py", "Rules and channels", ":material/rule:", "Govern", "manage_rules"),
    PageSpec("pages/audit_trail.py", "Audit trail", ":material/policy:", "Govern", "view_audit"),
    PageSpec("pages/reports.py", "Reports", ":material/summarize:", "Govern", "read"),
    PageSpec("pages/users.py", "Users and roles", ":material/manage_accounts:", "Admin", "manage_users"),
    PageSpec("pages/settings.py", "Settings", ":material/tune:", "Admin", "read"),
)


def visible_pages(actor: Actor, pages: tuple[PageSpec, ...] = PAGES) -> list[PageSpec]:
    """The pages ``actor`` may see, in table order."""
    return [p for p in pages if actor.can(p.capability)]


def spec_for(path: str) -> PageSpec:
    """The :class:`PageSpec` of a page script path (``"pages/users.py"``)."""
    for spec in PAGES:
        if spec.path == path:
            return spec
    raise KeyError(path)


def build(actor: Actor) -> dict[str, list]:
    """``st.navigation`` sections (group -> ``st.Page`` list) for ``actor``; empty groups are left out."""
    import streamlit as st

    sections: dict[str, list] = {}
    for spec in visible_pages(actor):
        page = st.Page(spec.file, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.default)
        sections.setdefault(spec.group, []).append(page)
    return {group: sections[group] for group in GROUPS if group in sections}
