"""The terminal picture of one series, built as Rich Text (Rich is already the renderer of
every human answer, so the chart needs no new dependency and inherits its NO_COLOR and pipe
handling: styles are dropped, the characters stay readable).

Wide (>= WIDE columns): a log-scale plot with each row's CTCAE grade in the margin and its band
shaded, a dot per count and ▼ at the nadir. Narrow: a one-line sparkline with ^ under the nadir.
"""

from __future__ import annotations

import math

WIDE = 60
HEIGHT = 12
LABEL = 7  # "  1500 "
BLOCKS = "▁▂▃▄▅▆▇█"
GRADE_STYLE = {0: "", 1: "on grey11", 2: "on grey23", 3: "on dark_red", 4: "on red3"}


def _range(cells: list[float], floor: float) -> tuple[float, float]:
    lo = max(floor, min(cells) / 1.5)
    hi = max(max(cells) * 1.5, lo * 4)
    return math.log(lo), math.log(hi)


def chart(
    ts: list[float],
    cells: list[float],
    nadir_index: int,
    grade_of,
    floor: float,
    width: int,
    first: str,
    last: str,
) -> list:
    """Lines of the chart; grade_of(cells) -> the CTCAE grade of a count (the KB scale), None
    when it is unknown."""
    from rich.text import Text

    if width < WIDE:
        return sparkline(cells, nadir_index, width)
    plot_w = max(10, width - LABEL - 4)
    lo, hi = _range(cells, floor)
    dy = (hi - lo) / HEIGHT
    t0, t1 = ts[0], ts[-1]

    def col(t: float) -> int:
        return plot_w // 2 if t1 == t0 else round((t - t0) / (t1 - t0) * (plot_w - 1))

    def row(c: float) -> int:
        return min(HEIGHT - 1, max(0, int((hi - math.log(max(c, floor))) / dy)))

    grid = [[" "] * plot_w for _ in range(HEIGHT)]
    for i, (t, c) in enumerate(zip(ts, cells)):
        if i != nadir_index:
            grid[row(c)][col(t)] = "●"
    grid[row(cells[nadir_index])][col(ts[nadir_index])] = "▼"
    lines = []
    for r in range(HEIGHT):
        centre = math.exp(hi - (r + 0.5) * dy)
        grade = grade_of(centre)
        label = f"{centre:>{LABEL - 1}.0f} " if r % 3 == 0 or r == HEIGHT - 1 else " " * LABEL
        line = Text(label)
        # "G?": grade 0 or 1, unknown without the lab's lower limit
        mark = "G?" if grade is None else f"G{grade}"
        line.append(mark, style="bold" if grade is not None and grade >= 3 else "dim")
        line.append("│")
        body = Text("".join(grid[r]), style=GRADE_STYLE.get(grade, ""))
        for x, ch in enumerate(grid[r]):
            if ch == "▼":
                body.stylize("bold yellow", x, x + 1)
        line.append_text(body)
        lines.append(line)
    lines.append(Text(" " * (LABEL + 2) + "└" + "─" * plot_w))
    pad = max(1, plot_w + 1 - len(first) - len(last))
    lines.append(Text(" " * (LABEL + 2) + first + " " * pad + last))
    return lines


def sparkline(cells: list[float], nadir_index: int, width: int) -> list:
    """One character per count (or per group of counts, keeping each group's lowest), on a
    log scale; ^ marks the nadir."""
    from rich.text import Text

    w = max(4, width - 2)
    n = len(cells)
    if n <= w:
        groups = [[i] for i in range(n)]
    else:  # each group non-empty: n > w
        groups = [list(range(i * n // w, (i + 1) * n // w)) for i in range(w)]
    lows = [min(cells[j] for j in g) for g in groups]
    lo, hi = math.log(max(min(lows), 1)), math.log(max(max(lows), 1))
    span = (hi - lo) or 1.0
    chars = "".join(BLOCKS[min(7, int((math.log(max(v, 1)) - lo) / span * 7.999))] for v in lows)
    mark = next(i for i, g in enumerate(groups) if nadir_index in g)
    return [Text(chars), Text(" " * mark + "^ nadir", style="bold")]
