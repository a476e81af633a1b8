"""Text and HTML tables for result objects, in the spirit of iminuit's FMin display."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["Cell", "text_table", "html_table"]

# (label, value text, status): status True = good (green), False = bad (red), None = neutral
Cell = tuple[str, str, "bool | None"]


def text_table(title: str, cells: Sequence[Cell], columns: int = 2) -> str:
    """Box-drawn table: a title row, then ``label: value`` cells, ``columns`` per row.

    Bad cells are marked with ``(!)`` so the text form carries the same warning as the colour.
    """
    items = [f"{lab}: {val}" + (" (!)" if ok is False else "") for lab, val, ok in cells]
    rows = [items[i : i + columns] for i in range(0, len(items), columns)]
    width = max([len(x) for x in items] + [(len(title) + 2 - 3 * columns + 1) // columns + 1])
    inner = columns * (width + 2) + (columns - 1)
    lines = ["┌" + "─" * inner + "┐", "│" + title.center(inner) + "│"]
    lines.append("├" + "┬".join("─" * (width + 2) for _ in range(columns)) + "┤")
    for r in rows:
        r = r + [""] * (columns - len(r))
        lines.append("│" + "│".join(" " + c.ljust(width) + " " for c in r) + "│")
    lines.append("└" + "┴".join("─" * (width + 2) for _ in range(columns)) + "┘")
    return "\n".join(lines)


def html_table(title: str, cells: Sequence[Cell], columns: int = 2) -> str:
    """HTML version of :func:`text_table` with green/red status colours."""
    colour = {True: "#92CCA6", False: "#FF7878", None: "#FFFFFF"}
    tds = [
        f'<td style="background-color:{colour[ok]};text-align:left">'
        f"<b>{html.escape(lab)}</b>: {html.escape(val)}</td>"
        for lab, val, ok in cells
    ]
    rows = ["".join(tds[i : i + columns]) for i in range(0, len(tds), columns)]
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return (
        '<table style="border-collapse:collapse">'
        f'<tr><th colspan="{columns}" style="text-align:center">{html.escape(title)}</th></tr>'
        f"{body}</table>"
    )
