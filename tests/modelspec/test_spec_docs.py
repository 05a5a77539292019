"""docs/model-spec.md's complete example is a valid spec, and valid against the JSON Schema beside it."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from analytics.modelspec import parse_spec, spec_to_dict

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA = json.loads((DOCS / "model-spec.schema.json").read_text())
EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "own_model" / "law-school.toml"


def _example() -> str:
    text = (DOCS / "model-spec.md").read_text()
    return re.search(r"## A complete example\s+```toml\n(.*?)```", text, re.S).group(1)


@pytest.mark.parametrize("text", [_example(), EXAMPLE_SPEC.read_text()], ids=["docs", "law-school"])
def test_examples_validate_against_the_schema_and_parse(text):
    jsonschema.validate(tomllib.loads(text), SCHEMA)
    spec = parse_spec(text)
    jsonschema.validate(spec_to_dict(spec), SCHEMA)  # what `vigil models show` prints is valid too


@pytest.mark.parametrize("change", [
    ("favourable_decision = 0", "favourable_decision = 2"),
    ('type = "integer"', 'type = "int"'),
    ('role = "segment"', 'role = "dimension"'),
    ("favourable_decision = 0", ""),
])
def test_the_schema_refuses_what_vigil_refuses(change):
    text = _example().replace(*change)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tomllib.loads(text), SCHEMA)
    with pytest.raises(Exception):
        parse_spec(text)
