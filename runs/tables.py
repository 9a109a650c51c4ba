"""Rows as tables: markdown for people, CSV for programs.

A cell may be a number, a string, or an :class:`~pucklab.runs.stats.Interval` (a mean over
seeds with its 95 % interval): markdown shows it as ``mean [low, high]``, CSV as three columns.
NaN shows as "-" and infinity as "never" (a threshold never reached).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

from pucklab.runs.stats import Interval


def number(cell: Any) -> float:
    """A cell's number: an :class:`~pucklab.runs.stats.Interval`'s mean, or the number itself
    (for figures and sentences drawn from table rows)."""
    return float(cell.mean) if isinstance(cell, Interval) else float(cell)


def _cell(value: Any, spec: str | None) -> str:
    if isinstance(value, Interval):
        return value.format(spec or ".3g")
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "never" if value > 0 else "-inf"
        return format(value, spec or ".4g")
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]],
                   formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (_cell(row.get(c, ""), formats.get(c)).replace("|", "\\|") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")  # a "|" inside a cell is escaped
    return "\n".join(lines)


def csv_bytes(header: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    """A CSV of ``rows`` after ``header`` (a stamp's ``# key: value`` lines), each Interval as
    three columns (``x``, ``x_low``, ``x_high``)."""
    wide: list[str] = []
    for c in columns:
        spread = any(isinstance(r.get(c), Interval) for r in rows)
        wide += [c, f"{c}_low", f"{c}_high"] if spread else [c]
    flat = []
    for r in rows:
        out = dict(r)
        for c, v in r.items():
            if isinstance(v, Interval):
                out.update({c: v.mean, f"{c}_low": v.low, f"{c}_high": v.high})
        flat.append(out)
    buf = io.StringIO()
    buf.write(header)
    writer = csv.DictWriter(buf, wide, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue().encode()
