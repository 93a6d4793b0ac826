"""Make text from outside the bundled KB inert before it reaches a terminal.

File contents, ids, overlay text and queries may hold escape sequences (ESC [ 31 m, OSC 8
hyperlinks) or other control characters. `inert` shows each as a visible escape (`\\x1b`), so
nothing typed into a lab export can recolour, move the cursor or open a link. Rich markup is
never interpreted at all: render's console has markup off, so `[link=...]` stays literal.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (0x80-0x9f, e.g. the 8-bit CSI);
# also the Unicode line/paragraph separators and bidi overrides, which reorder what is shown,
# and lone surrogates (a JSON "\ud800" escape), which no output encoding can write.
_UNSAFE_CLASS = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
# what json.dumps(ensure_ascii=False) leaves raw of those: DEL, C1, separators, bidi, surrogates
_JSON_UNSAFE_CLASS = "[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
_compiled: dict[str, re.Pattern] = {}


def _re(pattern: str) -> re.Pattern:
    """Compiled on first use (start-up of the JSON path pays for it only when needed)."""
    found = _compiled.get(pattern)
    if found is None:
        found = _compiled[pattern] = re.compile(pattern)
    return found


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: object) -> str:
    """`text` as a string with every unsafe character made visible (\\x1b, \\u202e)."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    unsafe = _re(_UNSAFE_CLASS)
    return unsafe.sub(_visible, s) if unsafe.search(s) else s


def inert_line(text: object) -> str:
    """As `inert`, and newlines and tabs too: for one-line fields (ids, table cells)."""
    s = inert(text)
    return s.replace("\n", "\\n").replace("\t", "\\t") if ("\n" in s or "\t" in s) else s


def escape_json_unsafe(text: str) -> str:
    """Escape, as JSON \\uXXXX, the characters json.dumps(ensure_ascii=False) leaves raw but a
    terminal may act on (C1 controls, DEL, bidi overrides). The parsed data is unchanged."""
    if text.isascii() and "\x7f" not in text:
        return text
    unsafe = _re(_JSON_UNSAFE_CLASS)
    if not unsafe.search(text):
        return text
    return unsafe.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def inert_tree(obj):
    """A copy of JSON-like data with every string made inert (for human rendering)."""
    if isinstance(obj, str):
        return inert(obj)
    if isinstance(obj, dict):
        return {k: inert_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [inert_tree(v) for v in obj]
    return obj
