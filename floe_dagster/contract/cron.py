"""Say what is wrong with a cron expression, field by field, before Dagster's yes/no check."""

from __future__ import annotations

import re

FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)  # fmt: skip
_PART = re.compile(r"^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/(\d+))?$")
SHORTHANDS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight")


def cron_problem(expression: str) -> str | None:
    """What is wrong with `expression` in words (e.g. "hour 25 is out of range 0-23"), or None."""
    text = expression.strip().lower()
    if text in SHORTHANDS:
        return None
    fields = text.split()
    if len(fields) != len(FIELDS):
        return (
            f"has {len(fields)} field(s); a cron has five: minute hour day-of-month month "
            "day-of-week, e.g. '0 6 * * *'"
        )
    for value, (name, low, high, names) in zip(fields, FIELDS, strict=True):
        for part in value.split(","):
            problem = _part_problem(part, name, low, high, names)
            if problem:
                return problem
    return None


def _part_problem(part: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    match = _PART.match(part)
    if match is None:
        return f"{name} {part!r} is not a number, range (a-b), list (a,b) or step (*/n)"
    start, end, step = match.groups()
    if step is not None and int(step) == 0:
        return f"{name} step {part!r} must be at least 1"
    bounds = []
    for item in (start, end):
        if item is None or item == "*":
            continue
        number = _number(item, low, names)
        if number is None:
            allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
            return f"{name} {item!r} is not a value of {allowed}"
        if not low <= number <= high:
            return f"{name} {number} is out of range {low}-{high}"
        bounds.append(number)
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        return f"{name} range {part!r} runs backwards; write the smaller value first"
    return None


def _number(item: str, low: int, names: tuple[str, ...]) -> int | None:
    if item.isdigit():
        return int(item)
    return names.index(item) + low if item in names else None
