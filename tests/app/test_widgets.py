"""The formatting helpers every page uses: their documented examples hold."""

from __future__ import annotations

import doctest

from app import theme, widgets


def test_the_documented_examples_hold():
    for module in (widgets, theme):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


def test_headers_are_readable_but_model_inputs_keep_their_names():
    assert widgets.header("submitted_by") == "Submitted by"
    assert widgets.header("PAY_AMT1") == "PAY_AMT1" and widgets.header("AGE_BAND") == "AGE_BAND"
