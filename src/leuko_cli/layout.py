"""Where a line of human output may break: only at a space that is not inside an identifier.

Rich wraps at any space and folds a word longer than the line, so "PMID 31613563", "[4, 10,
14]", "450 cells/µL" or a DOI could be split across lines, and its wrapped lines end in spaces.
Non-breaking spaces do not help: Rich (and Python's `\\s`) treats U+00A0 as a space. So human
text is wrapped here, before Rich sees it: the protected spans below are atoms, a line breaks
only at other spaces, never inside a word, and a single atom longer than the line (a long URL)
overflows rather than breaks, so it still works when copied. Pure Python: no Rich import.
"""

from __future__ import annotations

import re

# Spans that must stay on one line; each may contain spaces.
PROTECTED = re.compile(
    r"""
    (?:URL:\s)?https?://\S+
  | \b(?:doi|DOI):\s?\S+
  | \b10\.\d{4,9}/\S+
  | \bPMID:?\s\d+
  | \bPMCID:?\s\S+
  | \[\d+(?:,\s\d+)*\]                                  # a citation list [4, 10, 14]
  | (?:[<>≤≥]=?\s)?\d[\d,.]*(?:\s?(?:cells/µL|cells/uL|/µL|/uL|×\s?10\^9/L|x\s?10\^9/L
       |10\^9/L|°C|°F|mmHg|mg/kg|µg/kg|mcg/kg|mg/m2|mg|µg|mcg|g/dL|%)(?:/[^\W\d]+)*)(?![\w/])
  | \d[\d,.]*\s(?:hours?|days?|weeks?|months?|years?|minutes?)\b
  | \b(?:Grade|grade|CTCAE|version|step|Step)\s\d[\d.]*\d?
  | --[a-z][\w-]*\s[\d][\w.^/]*                         # an option with its value
  | \bleuko\s(?:causes\sshow\s(?:ID|[a-z0-9-]+)|[a-z]+(?:\s(?:info|path|check|show))?)\b
    """,
    re.X,
)
MARKER = re.compile(r"^(\s*)(•\s+|\[\d+\]\s+|\d+\.\s+|\[[ x]\]\s+)?")


def atoms(text: str) -> list[tuple[int, int]]:
    """(start, end) of each unbreakable run: words, with protected spans kept whole."""
    protected = [m.span() for m in PROTECTED.finditer(text)]
    out: list[tuple[int, int]] = []
    for m in re.finditer(r"\S+", text):
        start, end = m.span()
        if out and any(ps < start < pe for ps, pe in protected):
            out[-1] = (out[-1][0], end)  # this space is inside a protected span: join
        else:
            out.append((start, end))
    return out


def hanging_indent(text: str) -> int:
    """Continuation lines line up after a leading indent and a bullet, [n] or 1. marker."""
    m = MARKER.match(text)
    if m.group(2):
        return len(m.group(0))
    return len(m.group(1)) + (2 if m.group(1) else 0)


def line_spans(text: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each output line of one paragraph (no newlines in `text`), greedy
    fill; continuation lines are indented by hanging_indent (the caller adds the spaces)."""
    spans = atoms(text)
    if not spans:
        return [(0, 0)]
    hang = hanging_indent(text)
    lines: list[tuple[int, int]] = []
    start, end = 0, spans[0][1]  # the first line keeps its leading indent
    first = True
    for a_start, a_end in spans[1:]:
        room = width - (0 if first else hang)
        if (end - start) + (a_end - end) <= room:
            end = a_end
        else:
            lines.append((0 if first else start, end))
            first = False
            start, end = a_start, a_end
    lines.append((0 if first else start, end))
    return lines


def wrap(text: str, width: int) -> list[str]:
    """Plain-text form of the same layout (the renderers apply it to styled text)."""
    out = []
    for para in text.split("\n"):
        hang = " " * hanging_indent(para)
        for n, (s, e) in enumerate(line_spans(para, width)):
            out.append(((hang if n else "") + para[s:e]).rstrip())
    return out
