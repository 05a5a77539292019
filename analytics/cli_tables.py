"""Plain-text tables for the ``vigil`` commands: headers, aligned columns, "—" where a value is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TextColumn:
    """One column of a text table: the key of its cells in each row, its header, and right alignment."""

    key: str
    header: str
    right: bool = False


def text_table(rows: Sequence[dict[str, str]], columns: Sequence[TextColumn]) -> str:
    """Rows of already formatted cells as an aligned table with a header line and a rule under it.

    >>> print(text_table([{"a": "x", "n": "1,234"}], [TextColumn("a", "name"), TextColumn("n", "count", right=True)]))
    name  count
    ----  -----
    x     1,234
    """
    widths = [max([len(c.header), *(len(str(r.get(c.key, ""))) for r in rows)]) for c in columns]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if c.right else cell.ljust(w)
                         for cell, w, c in zip(cells, widths, columns)).rstrip()

    out = [line([c.header for c in columns]), line(["-" * w for w in widths])]
    out += [line([str(r.get(c.key, "")) for c in columns]) for r in rows]
    return "\n".join(out)
