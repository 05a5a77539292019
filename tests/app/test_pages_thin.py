"""Pages are thin: no page opens the store or holds SQL; they call analytics through app/ helpers.

A fast static check over pages/*.py (no app run): reads go through :mod:`app.queries`, writes through
:class:`app.actions.PageActions`, both of which call the analytics functions that own the SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[2] / "pages").glob("*.py"))
#: Modules a page may not import: the store (and the database driver behind it).
FORBIDDEN_MODULES = ("analytics.store", "duckdb")
#: SQL in a string: a statement's keywords in capitals, as the house writes SQL.
SQL = re.compile(r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|VIEW)"
                 r"|ALTER\s+TABLE|DROP\s+(TABLE|VIEW))\b")


def problems(source: str) -> list[str]:
    """What makes a page's source not thin: store imports, SQL text and ``.execute`` calls, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            names = []
        found += [f"line {node.lineno}: imports {n}" for n in names
                  if any(n == m or n.startswith(m + ".") for m in FORBIDDEN_MODULES)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value[:40]!r}")
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "sql") and isinstance(node.ctx, ast.Load):
            found.append(f"line {node.lineno}: calls .{node.attr}")
    return found


def test_the_check_finds_what_it_forbids():
    fat = ('from analytics.store import read\nfrom analytics import store\nimport duckdb\n'
           'rows = read(lambda con: con.execute("SELECT DISTINCT actor FROM audit_log").fetchall())\n')
    said = problems(fat)
    assert [p.split(": ", 1)[1][:22] for p in said] == [
        "imports analytics.stor", "imports analytics.stor", "imports duckdb", "calls .execute", "SQL text 'SELECT DISTI"]
    assert problems('from analytics import audit\nst.caption("Select a version from the list")\n') == []


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_a_page_neither_opens_the_store_nor_holds_sql(page):
    assert problems(page.read_text()) == [], f"{page.name}: read through app.queries, write through app.actions"
