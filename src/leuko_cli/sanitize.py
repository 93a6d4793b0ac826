"""Make text from outside the bundled KB inert before it reaches a terminal.

File contents, ids, overlay text and queries may hold escape sequences (ESC [ 31 m, OSC 8
hyperlinks) or other control characters. `inert` shows each as a visible escape (`\\x1b`), so
nothing typed into a lab export can recolour, move the cursor or open a link. Rich markup is
never interpreted at all: render's console has markup off, so `[link=...]` stays literal.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (0x80-0x9f, e.g. the 8-bit CSI);
# also the Unicode line/paragraph separators and bidi overrides, which reorder what is shown.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: object) -> str:
    """`text` as a string with every unsafe character made visible (\\x1b, \\u202e)."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_visible, s) if _UNSAFE.search(s) else s


def inert_line(text: object) -> str:
    """As `inert`, and newlines and tabs too: for one-line fields (ids, table cells)."""
    s = inert(text)
    return s.replace("\n", "\\n").replace("\t", "\\t") if ("\n" in s or "\t" in s) else s


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_json_unsafe(text: str) -> str:
    """Escape, as JSON \\uXXXX, the characters json.dumps(ensure_ascii=False) leaves raw but a
    terminal may act on (C1 controls, DEL, bidi overrides). The parsed data is unchanged."""
    if not _JSON_UNSAFE.search(text):
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def inert_tree(obj):
    """A copy of JSON-like data with every string made inert (for human rendering)."""
    if isinstance(obj, str):
        return inert(obj)
    if isinstance(obj, dict):
        return {k: inert_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [inert_tree(v) for v in obj]
    return obj
