"""In Chromium: the law-school model onboarded with the command line only (docs/own-model.md) opens on
the pages that draw the model's own schema, words and artifact without an error. Every page of the
admin's menu renders for it in the AppTest half, tests/modelspec/test_own_model.py."""

from __future__ import annotations

import pytest
from shared_build import law_support
from e2e_support import StreamlitServer, menu, open_page, problems, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-own-model")]  # its own server: runs beside the demo group

LOG_PROBLEMS = ("Traceback", "unexpected error while showing", "Uncaught app execution")
#: The pages whose content comes from the model's spec, log schema and artifact.
MODEL_PAGES = ("Overview", "Drift", "Performance", "Fairness", "Explanations", "Counterfactuals", "KPIs", "Registry")


_support = law_support("law_support_e2e")
law_files = _support.law_files  # the fixture: the example's files, written once per test run


def test_every_page_of_the_onboarded_model_opens_in_chromium(law_files, tmp_path_factory, page, screenshots):
    db, password = _support.law_store_copy(tmp_path_factory, law_files)
    root = db.parent
    server = StreamlitServer(db, root, env={"VIGIL_AUTH": "local"}).start()
    try:
        sign_in(page, server.url, "ada", password, at=MODEL_PAGES[0])
        titles = menu("ada", "admin")
        assert set(MODEL_PAGES) <= set(titles), titles
        for i, title in enumerate(MODEL_PAGES):
            if i:
                open_page(page, title)
            shot = screenshot(page, screenshots, f"law-school-{title}")
            assert problems(page) == [], f"{title} ({shot}): {problems(page)}"
            assert page.locator('[data-testid="stMain"] h1').count() >= 1, f"{title} drew no heading ({shot})"
        log = server.log_text()
        assert not [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)], log[-4000:]
    finally:
        server.stop()
