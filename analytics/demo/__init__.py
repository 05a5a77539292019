"""The demo portfolio built from real public data (see :func:`build_demo`)."""

from analytics.demo._build import DEMO_USERS, DemoSummary, build_demo, credentials_path, default_end

__all__ = ["DEMO_USERS", "DemoSummary", "build_demo", "credentials_path", "default_end"]
