"""The cyclic-neutropenia screen: a Lomb-Scargle periodogram of the log count.

Lomb-Scargle suits unevenly spaced samples (clinic counts are never evenly spaced); the count
is taken on a log scale because neutrophil cycles swing by factors, not by fixed amounts. The
false-alarm probability is a permutation test: the values are shuffled over the same sampling
times and the share of shuffles whose highest peak reaches the observed one is the probability
that noise alone, sampled this way, gives such a peak. It makes no assumption about the noise
distribution or the independence of frequencies (which the analytic Scargle/Baluev bounds
need), and the seed is fixed so the answer is reproducible. scipy is imported here only: it is
the optional extra `leuko-cli[trend]`.
"""

from __future__ import annotations

import math

SEED = 20170  # fixed: the same series always gives the same false-alarm probability
OVERSAMPLE = 10  # frequency steps per 1/span: fine enough to place a peak within a day


def sampling(ts: list[float], days: int, rule: dict) -> tuple[bool, str, dict]:
    """(enough?, the reason, what was measured) by the KB `cyclic-sampling` rule."""
    span = ts[-1] - ts[0] if ts else 0.0
    weeks = span / 7
    per_week = days / weeks if weeks > 0 else 0.0
    measured = {"span_weeks": round(weeks, 1), "days_sampled_per_week": round(per_week, 1)}
    need = (
        f"needs counts on at least {rule['min_per_week']:g} days a week over at least "
        f"{rule['min_weeks']:g} weeks"
    )
    if weeks < rule["min_weeks"] or per_week < rule["min_per_week"]:
        return (
            False,
            f"{need}; this series has {per_week:.1f} a week over {weeks:.1f} weeks",
            measured,
        )
    return True, need, measured


def screen(ts: list[float], ys: list[float], days: int, sampling_rule: dict, search: dict) -> dict:
    """The cycle status of one series (ts in days, ys = ln count)."""
    base = {
        "method": "Lomb-Scargle periodogram (scipy.signal.lombscargle) of ln(count); "
        f"permutation false-alarm probability ({search['permutations']} shuffles)",
        "rules": [sampling_rule["id"], search["id"]],
        "period_days": None,
        "power": None,
        "false_alarm": None,
    }
    ok, reason, measured = sampling(ts, days, sampling_rule)
    base.update(measured)
    if not ok:
        return {**base, "status": "insufficient", "reason": reason}
    span = ts[-1] - ts[0]
    lo, hi = search["min_period_days"], min(search["max_period_days"], span / 2)
    if hi <= lo:
        return {
            **base,
            "status": "insufficient",
            "reason": f"the series is too short for {lo:g}-day periods",
        }
    try:
        import numpy as np
        from scipy.signal import lombscargle
    except ImportError:
        return {
            **base,
            "status": "unavailable",
            "reason": "the cyclic screen needs scipy: pip install 'leuko-cli[trend]'",
        }
    t = np.asarray(ts, dtype=float) - ts[0]
    y = np.asarray(ys, dtype=float)
    y = y - y.mean()
    if not np.any(y):
        return {**base, "status": "no-cycle", "reason": "the counts do not vary"}
    step = 1 / (span * OVERSAMPLE)
    freqs = np.arange(1 / hi, 1 / lo + step / 2, step)
    w = 2 * math.pi * freqs
    power = lombscargle(t, y, w, normalize=True)
    best = int(np.argmax(power))
    peak = float(power[best])
    rng = np.random.default_rng(SEED)
    n = int(search["permutations"])
    louder = sum(
        1
        for _ in range(n)
        if float(np.max(lombscargle(t, rng.permutation(y), w, normalize=True))) >= peak
    )
    fap = (louder + 1) / (n + 1)
    found = fap <= search["false_alarm_max"]
    return {
        **base,
        "status": "cycle" if found else "no-cycle",
        "period_days": round(1 / float(freqs[best]), 1),
        "power": round(peak, 3),
        "false_alarm": round(fap, 4),
        "reason": (
            f"false-alarm probability {fap:.3g} "
            f"{'<=' if found else '>'} {search['false_alarm_max']:g}"
        ),
    }
