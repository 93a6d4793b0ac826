"""A standalone SVG chart of one series, written by hand (no plotting dependency): grade bands
as shaded rectangles on a log scale, the counts as a line with dots, the nadir marked. Every
text from outside (the subject id) is shown inert and XML-escaped; the file is written atomically.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape as _xml_escape

from leuko_cli.sanitize import inert_line

W, H = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 40
FILL = {0: "#ffffff", 1: "#f2f2f2", 2: "#e0e0e0", 3: "#f6c9c9", 4: "#ef9a9a"}


def escape(text: str) -> str:
    """Text for the chart: controls and lone surrogates shown as visible escapes (XML 1.0 cannot
    hold them, and UTF-8 cannot encode a surrogate), U+FFFE/U+FFFF too, then XML-escaped."""
    shown = inert_line(text)
    if "\ufffe" in shown or "\uffff" in shown:
        shown = shown.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")
    return _xml_escape(shown)


def render(
    title: str,
    ts: list[float],
    cells: list[float],
    nadir_index: int,
    grade_of,
    floor: float,
    first: str,
    last: str,
    nadir_label: str,
    grades: str = "CTCAE",
) -> str:
    lo = math.log(max(floor, min(cells) / 1.5))
    hi = math.log(max(max(cells) * 1.5, math.exp(lo) * 4))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    t0, t1 = ts[0], ts[-1]

    def x(t: float) -> float:
        return LEFT + (pw / 2 if t1 == t0 else (t - t0) / (t1 - t0) * pw)

    def y(c: float) -> float:
        return TOP + (hi - math.log(max(c, floor))) / (hi - lo) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>',
    ]
    strips = 48  # the bands, drawn as thin strips graded at their centre
    for i in range(strips):
        centre = math.exp(hi - (i + 0.5) * (hi - lo) / strips)
        g = grade_of(centre)
        out.append(
            f'<rect x="{LEFT}" y="{TOP + i * ph / strips:.1f}" width="{pw}" '
            f'height="{ph / strips + 0.5:.1f}" fill="{FILL.get(g, "#ffffff")}"/>'
        )
    for k in range(5):
        v = math.exp(hi - k * (hi - lo) / 4)
        yy = TOP + k * ph / 4
        out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    pts = " ".join(f"{x(t):.1f},{y(c):.1f}" for t, c in zip(ts, cells))
    out.append(f'<polyline points="{pts}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>')
    for t, c in zip(ts, cells):
        out.append(f'<circle cx="{x(t):.1f}" cy="{y(c):.1f}" r="2.5" fill="#1f4e79"/>')
    nx, ny = x(ts[nadir_index]), y(cells[nadir_index])
    out.append(
        f'<path d="M{nx - 6:.1f},{ny - 14:.1f} L{nx + 6:.1f},{ny - 14:.1f} '
        f'L{nx:.1f},{ny - 4:.1f} Z" fill="#c00000"/>'
    )
    out.append(
        f'<text x="{nx:.1f}" y="{ny - 18:.1f}" text-anchor="middle">{escape(nadir_label)}</text>'
    )
    out.append(f'<text x="{LEFT}" y="{H - 12}">{escape(first)}</text>')
    out.append(f'<text x="{W - RIGHT}" y="{H - 12}" text-anchor="end">{escape(last)}</text>')
    out.append(f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>')
    out.append(
        f'<text x="{W - RIGHT}" y="22" text-anchor="end">cells/µL, log scale; '
        f"shading: {escape(grades)} grade</text>"
    )
    out.append("</svg>\n")
    return "\n".join(out)


def write_atomic(path: str, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over: never a half-written SVG.
    The file gets the mode a new file would (umask), not a temp file's 0600."""
    from leuko_cli import paths
    from leuko_cli.errors import OutputError

    target = paths.output_file("--svg", path)
    try:
        paths.write_atomic(target, text.encode("utf-8"))
    except OSError as err:  # the output: exit 4, as every failed write
        raise OutputError(f"--svg {path}: cannot write ({err.strerror or err})") from None
