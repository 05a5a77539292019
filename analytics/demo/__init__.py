"""The demo portfolio built from real public data (see :func:`build_demo`)."""

from analytics.demo._build import DEMO_USERS, DemoSummary, build_demo, credentials_path, default_end
from analytics.demo._business import demo_definitions, seed_business
from analytics.demo._cards import write_cards

__all__ = ["DEMO_USERS", "DemoSummary", "build_demo", "credentials_path", "default_end", "demo_definitions", "seed_business",
           "write_cards"]
