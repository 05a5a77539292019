"""analytics.memo.Memo: results kept by key, the least recently used dropped first, an error never kept."""

from __future__ import annotations

import pytest

from analytics.memo import Memo


def test_a_result_is_computed_once_and_the_least_recently_used_goes_first():
    memo: Memo[int] = Memo(2)
    calls: list[str] = []

    def compute(key: str):
        return lambda: calls.append(key) or len(calls)

    assert memo.get("a", compute("a")) == 1 and memo.get("a", compute("a")) == 1
    memo.get("b", compute("b"))
    memo.get("a", compute("a"))  # used again: "b" is now the least recently used
    memo.get("c", compute("c"))
    assert memo.keys() == ["a", "c"] and calls == ["a", "b", "c"]
    memo.clear()
    assert memo.keys() == []


def test_an_error_is_not_kept():
    memo: Memo[int] = Memo(2)

    def fail() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        memo.get("a", fail)
    assert memo.keys() == [] and memo.get("a", lambda: 3) == 3
