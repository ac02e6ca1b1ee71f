"""A benchmark figure and the table that prints them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, its target, and whether the target was met (None: no target)."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None
    note: str = ""


def percentile(samples: list[float], pct: float) -> float:
    """Return the ``pct`` percentile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(samples: list[float]) -> float:
    """Return the median of ``samples``."""
    return statistics.median(samples) if samples else float("nan")


def render(figures: list[Figure]) -> str:
    """Render the figures as a plain-text table (also valid Markdown)."""
    rows = [("figure", "measured", "target", "met", "note")]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.name, f.value, f.target, met, f.note))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
