"""Results kept in this process, the least recently used dropped first: one mechanism for every reader that
keeps what it computed from data that does not change under the same key (a reference's fits and profiles, a
model's daily cells for one data token).

Public API
----------
:class:`Memo`
    A bounded, thread-safe map of results by key, computed on a miss.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    """At most ``size`` results, by key, kept in this process; the least recently used is dropped first.

    A key must name everything the result depends on (the store's file, the model, a data token...): a
    result is never checked again once kept. Results must not be changed by their readers. Threads of
    one process (the app's sessions) share it; two threads missing the same key at once both compute,
    and the second result is kept.

    Parameters
    ----------
    size : int
        How many results to keep.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._results: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The result kept under ``key``, or ``compute()`` kept under it (an error it raises is not kept).

        Parameters
        ----------
        key : hashable
            What the result depends on.
        compute : callable
            Computes the result on a miss.

        Returns
        -------
        object
            The result.
        """
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        value = compute()
        with self._lock:
            self._results[key] = value
            self._results.move_to_end(key)
            while len(self._results) > self._size:
                self._results.popitem(last=False)
        return value

    def keys(self) -> list[Hashable]:
        """The keys of the results kept, least recently used first."""
        with self._lock:
            return list(self._results)

    def clear(self) -> None:
        """Drop every result kept (as a new process starts)."""
        with self._lock:
            self._results.clear()
