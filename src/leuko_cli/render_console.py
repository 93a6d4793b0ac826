"""The Rich console every human renderer prints through (render.py, render_assess.py).

Text is wrapped by layout.py before Rich sees it, so identifiers, citation lists and numbers
with their units are never split and no line ends in spaces; tables are printed line by line
with trailing spaces and blank edge lines removed. Markup is off: no text, from the KB or
outside, is ever read as Rich markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


class LeukoConsole(Console):
    """A Console whose text is wrapped by layout.py (identifiers never split, continuation
    lines indented) and whose every line, tables included, ends without trailing spaces."""

    def on_broken_pipe(self) -> None:
        # Rich's default exits 1; `leuko ... | head` is a reader that has what it wanted:
        # errors.report turns BrokenPipeError into a quiet exit 0, as on the JSON path.
        self.quiet = True
        raise BrokenPipeError

    def print(self, *objects, **kwargs) -> None:  # noqa: A003 - Rich's own name
        plain = self.color_system is None and not kwargs  # a pipe, NO_COLOR: no styles to emit
        if not objects:
            self._plain_write("\n") if plain else super().print()
            return
        for obj in objects:
            if isinstance(obj, str):
                obj = Text(obj)
            lines = _wrapped(obj, self.width) if isinstance(obj, Text) else self._lines(obj)
            if plain:  # the lines are already wrapped and stripped: Rich would add nothing
                self._plain_write("".join(line.plain + "\n" for line in lines))
                continue
            for line in lines:
                super().print(line, soft_wrap=True, **kwargs)

    def _plain_write(self, text: str) -> None:
        """Write text as Rich would without colour (its print costs ~0.25 ms a line)."""
        if self.quiet:
            return
        try:
            self.file.write(text)
        except BrokenPipeError:
            self.on_broken_pipe()

    def _lines(self, renderable) -> list[Text]:
        out = []
        for segments in self.render_lines(renderable, self.options, pad=False, new_lines=False):
            line = Text.assemble(*((s.text, s.style) for s in segments if not s.control))
            line.rstrip()
            out.append(line)
        while out and not out[0].plain:
            out.pop(0)  # no padding lines above or below a table
        while out and not out[-1].plain:
            out.pop()
        return out


def _wrapped(text: Text, width: int) -> list[Text]:
    from .layout import hanging_indent, line_spans

    out = []
    offset = 0
    for para in text.plain.split("\n"):
        piece = text[offset : offset + len(para)]
        offset += len(para) + 1
        hang = " " * hanging_indent(para)
        for n, (start, end) in enumerate(line_spans(para, width)):
            line = piece[start:end]
            line.rstrip()
            out.append(Text(hang) + line if n else line)
    return out


def console() -> Console:
    # markup off: no text, from the KB or outside, is ever read as Rich markup
    return LeukoConsole(
        highlight=False, soft_wrap=False, emoji=False, markup=False, **color_options()
    )


COLOR_CHOICES = ("auto", "always", "never")  # as cli_app.ColorChoice offers them for --color


def color_options() -> dict:
    """--color / LEUKO_COLOR: auto leaves the choice to Rich (colour on a terminal; NO_COLOR
    and FORCE_COLOR honoured); always forces colour even in a pipe; never turns it off."""
    import os

    given = os.environ.get("LEUKO_COLOR", "")
    choice = given.strip().lower() or "auto"  # empty counts as unset, as for LEUKO_UNIT
    if choice not in COLOR_CHOICES:
        from .errors import InputError, nearest

        raise InputError(
            f"LEUKO_COLOR={given!r}{nearest(given, COLOR_CHOICES)}: use one of: "
            f"{', '.join(COLOR_CHOICES)}; change or unset LEUKO_COLOR"
        )
    if choice == "always":
        return {"force_terminal": True, "no_color": False, "color_system": "256"}
    if choice == "never":
        return {"no_color": True, "color_system": None}
    return {}
