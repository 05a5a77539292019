"""Declaring a user's own model without Python: a model spec (TOML), its registration and its versions.

- :func:`load_spec` / :func:`parse_spec` read and check a spec file (every problem reported);
  :func:`spec_to_toml` writes one back out (``vigil models show``).
- :func:`register_spec` registers the model, or applies a changed spec's compatible changes.
- :func:`add_version` registers a version from its reference data and, optionally, its artifact.

The command line is ``vigil models`` (:mod:`analytics.modelspec.cli`).
"""

from analytics.modelspec._register import Change, Registration, compare, register_spec, registered_spec
from analytics.modelspec._spec import (
    InvalidSpecError, ModelSpec, load_spec, parse_spec, spec_to_dict, spec_to_json, spec_to_toml,
)

__all__ = [
    "Change", "InvalidSpecError", "ModelSpec", "Registration", "compare", "load_spec", "parse_spec",
    "register_spec", "registered_spec", "spec_to_dict", "spec_to_json", "spec_to_toml",
]
