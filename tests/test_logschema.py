"""The log schema's words for decisions, outcomes and columns (issue 13, item 19)."""

from __future__ import annotations

import pytest

from analytics import registry, store
from analytics.demo import _credit, _employment
from analytics.errors import InvalidInputError
from analytics.logschema import Column, LogSchema, text_literal
from tests.conftest import SYSTEM

LOAN = LogSchema(
    columns=(Column("income", "double", title="yearly income"), Column("region", "categorical", role="segment")),
    positive_class="default",
    decision_labels={"0": "approved", "1": "declined"},
    outcome_labels={0: "repaid", 1: "defaulted"},
)


def test_labels_and_titles_survive_registration(db):
    """A user's model keeps its words through the registry (keys given as text, as TOML gives them)."""
    store.write(lambda con: registry.register_model(con, SYSTEM, "loan-default", LOAN, owner="me"), db)
    schema = store.read(lambda con: registry.get_model(con, "loan-default"), db).schema
    assert schema == LOAN
    assert schema.decision_labels == {0: "approved", 1: "declined"}
    assert [schema.decision_text(v) for v in (0, 1)] == ["approved", "declined"]
    assert [schema.outcome_text(v) for v in (0, 1)] == ["repaid", "defaulted"]
    assert schema.display_name("income") == "yearly income"
    assert schema.display_name("region") == "region"
    assert schema.display_name("score") == "score"


def test_without_words_the_positive_class_speaks():
    schema = LogSchema(columns=(Column("x", "double"),), positive_class="churn")
    assert [schema.decision_text(v) for v in (0, 1)] == ["predicted not churn", "predicted churn"]
    assert [schema.outcome_text(v) for v in (0, 1)] == ["not churn", "churn"]
    assert LogSchema.from_json(schema.to_json()) == schema


@pytest.mark.parametrize("labels", [{2: "maybe"}, {0: ""}, {0: "yes", 1: "YES"}, ["approved"], {True: "x"}])
def test_bad_labels_are_refused(labels):
    with pytest.raises(InvalidInputError, match="decision_labels"):
        LogSchema(columns=(Column("x", "double"),), positive_class="churn", decision_labels=labels)


def test_demo_models_declare_their_words():
    assert _credit.SCHEMA.decision_labels == {0: "approved", 1: "declined"}
    assert _credit.SCHEMA.outcome_labels == {0: "repaid", 1: "defaulted"}
    assert _credit.SCHEMA.display_name("LIMIT_BAL") == "credit limit"
    assert _employment.SCHEMA.outcome_text(1) == "employed"
    assert all(c.title for c in _credit.SCHEMA.columns + _employment.SCHEMA.columns)


def test_a_text_literal_reads_back_as_the_text():
    """Quotes, a NUL character (which a SQL literal cannot hold), non-ASCII and the empty text: DuckDB reads each
    literal back as the text itself."""
    import duckdb

    texts = ["plain", "it's", "''", "a\x00b", "\x00", "é😀 ; DROP TABLE x; --", ""]
    con = duckdb.connect()
    assert con.execute(f"SELECT [{', '.join(map(text_literal, texts))}]").fetchone()[0] == texts
