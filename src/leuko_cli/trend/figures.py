"""The figures of one subject's series: nadir, days per grade and below a threshold, recovery,
direction. Pure functions of sorted samples and KB rules (docs/trend.md defines each).

The day rule (KB `day-carry`): each calendar day from the first sample to the last takes the
lowest count measured on that day; a day without a sample takes the last count before it, for
at most `max_carry_days` days counted from that count's own day; later days are unobserved.
"""

from __future__ import annotations

import math
from datetime import date

from .series import Sample


def day_number(day: date, day1: date | None) -> int | None:
    """Day of the cycle with --day1 as day 1 (the day before it is day 0)."""
    return None if day1 is None else (day - day1).days + 1


def daily(samples: list[Sample]) -> list[Sample]:
    """One sample per calendar day: the lowest count of the day (the first such, on ties)."""
    out: dict[date, Sample] = {}
    for s in samples:
        held = out.get(s.day)
        if held is None or s.cells < held.cells:
            out[s.day] = s
    return [out[d] for d in sorted(out)]


def nadir(samples: list[Sample], day1: date | None) -> dict:
    low = min(samples, key=lambda s: (s.cells, s.t))
    return {
        "value": _num(low.cells),
        "date": low.day.isoformat(),
        "day": day_number(low.day, day1),
        "line": low.line,
        "grade": low.grade,
        "ctcae_version": low.version,
    }


UNKNOWN = "unknown"  # the by_grade key of days whose grade needs the lab's lower limit


def grade_order(key: str) -> tuple[int, int]:
    """Grades in order, `unknown` last."""
    return (1, 0) if key == UNKNOWN else (0, int(key))


def day_counts(days: list[Sample], max_carry: int, threshold: float | None) -> dict:
    """Days per grade and below `threshold`, by the day rule; observed and unobserved days.
    A day whose grade is unknown (grade 0 or 1 without the lab's lower limit) counts under
    `unknown`, never under a grade."""
    by_grade: dict[str, int] = {}
    below = observed = unobserved = 0
    for i, s in enumerate(days):
        gap = (days[i + 1].day - s.day).days if i + 1 < len(days) else 1
        stands = min(gap, max_carry)
        observed += stands
        unobserved += gap - stands
        key = UNKNOWN if s.grade is None else str(s.grade)
        by_grade[key] = by_grade.get(key, 0) + stands
        if threshold is not None and s.cells < threshold:
            below += stands
    return {
        "observed": observed,
        "unobserved": unobserved,
        "by_grade": dict(sorted(by_grade.items(), key=lambda kv: grade_order(kv[0]))),
        "below_threshold": below if threshold is not None else None,
        "threshold": threshold,
    }


def recovery(days: list[Sample], threshold: float, n: int, day1: date | None) -> dict:
    """The first of `n` consecutive daily values >= threshold after the nadir day."""
    base = {"threshold": threshold, "consecutive": n, "date": None, "day": None}
    if not days:
        return {**base, "status": "no-counts"}
    low = min(range(len(days)), key=lambda i: (days[i].cells, i))
    if days[low].cells >= threshold:
        return {**base, "status": "never-below"}
    run = 0
    for i in range(low + 1, len(days)):
        run = run + 1 if days[i].cells >= threshold else 0
        if run == n:
            first = days[i - n + 1].day
            return {
                **base,
                "status": "recovered",
                "date": first.isoformat(),
                "day": day_number(first, day1),
            }
    return {**base, "status": "not-recovered"}


def direction(samples: list[Sample], floor: float) -> dict:
    """Least-squares slope of ln(count) against time, as % change per week. Counts below
    `floor` (the measure's smallest plausible positive count) are raised to it first."""
    n = len(samples)
    span = samples[-1].t - samples[0].t if samples else 0.0
    if n < 2 or span <= 0:
        return {
            "status": "insufficient",
            "points": n,
            "span_days": _num(span),
            "percent_per_week": None,
        }
    ts = [s.t for s in samples]
    ys = [math.log(max(s.cells, floor)) for s in samples]
    tm, ym = sum(ts) / n, sum(ys) / n
    sxx = sum((t - tm) ** 2 for t in ts)
    slope = sum((t - tm) * (y - ym) for t, y in zip(ts, ys)) / sxx
    pct = (math.exp(slope * 7) - 1) * 100
    return {
        "status": "rising" if pct > 0 else "falling" if pct < 0 else "flat",
        "points": n,
        "span_days": _num(span),
        "percent_per_week": round(pct, 1),
    }


def worst_grades(samples: list[Sample]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in samples:
        if s.grade is not None and s.grade > out.get(s.version, -1):
            out[s.version] = s.grade
    return out


def _num(x: float) -> float | int:
    r = round(x, 3)
    return int(r) if r == int(r) else r


def span_dates(samples: list[Sample]) -> tuple[str, str]:
    return samples[0].day.isoformat(), samples[-1].day.isoformat()


__all__ = [
    "UNKNOWN",
    "daily",
    "day_counts",
    "grade_order",
    "direction",
    "nadir",
    "recovery",
    "span_dates",
    "worst_grades",
]
