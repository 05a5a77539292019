"""Govern > Deployments: the comparison's verdict and table as analytics computes them; the rollout section."""

from __future__ import annotations

from datetime import datetime, timezone

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures
from streamlit.testing.v1 import AppTest

from analytics import deployments
from analytics.roles import Actor
from analytics.window import Window
from app import auth, context

PAGE = str(context.__file__).replace("app/context.py", "pages/deployments.py")


def _page(role: str, model: str) -> AppTest:
    now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[auth.SESSION_ACTOR] = Actor(role, role)
    at.session_state["ctx_current"] = context.Context(now=now, window="90d", model=model)
    at.run()
    assert not at.exception, at.exception
    return at


def test_viewer_sees_the_verdict_and_the_numbers_of_analytics(vigil_db):
    at = _page("viewer", "loan-risk")
    assert not at.error or "Verdict" in at.error[0].value
    ctx = at.session_state["ctx_current"]
    r = deployments.compare(vigil_db, "loan-risk", baseline="v2", candidate="v1", window=Window(start=ctx.start, end=ctx.end))
    shown = [m.value for m in (*at.success, *at.info, *at.warning, *at.error)]
    assert any(f"Verdict: {r.verdict}" in v for v in shown)
    frame = at.dataframe[0].value
    assert list(frame["measure"]) == list(r.table["measure"])
    assert "No rollout plan" in " ".join(c.value for c in at.caption)


def test_a_model_with_one_served_version_says_so(vigil_db):
    at = _page("viewer", "churn")
    assert "fewer than two versions" in at.info[0].value
