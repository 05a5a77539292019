"""Vigil's engine: a plain Python package that never imports streamlit.

The store (DuckDB schema, migrations, connections), ingestion, the model registry, users and roles,
the audit trail and the demo portfolio live here, so that the app, the ``vigil`` command line,
notebooks and tests all read the same numbers.
"""

__version__ = "0.1.0"
