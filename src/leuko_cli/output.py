"""The one output path: a command handler returns an `Answer`; `emit` prints it.

JSON goes out through json.dumps (so the JSON path never imports Rich); human output through
the `render` function the answer names; plain lines and raw text (exports) as they are.
Batch rows are written by `batch.writers`, the same way for every reader.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .kb import KnowledgeBase


class Answer:
    """What a command produced. `data` is exactly what --json prints. `view` names the render
    function for human output, or "lines" (print `lines`, plain) or "text" (print `data`, a
    string, as it is). `context` holds what a render needs beyond the data (e.g. the query);
    `note` is one line for stderr; `exit_code` is the command's status once printed."""

    __slots__ = ("view", "data", "kb", "audience", "exit_code", "lines", "context", "note")

    def __init__(
        self,
        view: str,
        data,
        kb: KnowledgeBase | None = None,
        *,
        audience: str = "clinician",
        exit_code: int = 0,
        lines: list[str] | None = None,
        context: dict | None = None,
        note: str | None = None,
    ) -> None:
        self.view, self.data, self.kb = view, data, kb
        self.audience, self.exit_code = audience, exit_code
        self.lines, self.context, self.note = lines, context or {}, note


def json_text(data, indent: int | None = 2) -> str:
    """JSON for a terminal or a pipe: json.dumps escapes C0 controls; C1 controls and bidi
    overrides, which ensure_ascii=False would leave raw, are escaped too (same data). On an
    output that cannot encode Unicode (PYTHONIOENCODING=ascii) every non-ASCII character is a
    \\u escape, so the JSON stays valid and means the same."""
    from .sanitize import escape_json_unsafe
    from .streams import unicode_output

    if not unicode_output():
        return json.dumps(data, indent=indent, ensure_ascii=True) + "\n"
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return escape_json_unsafe(text) + "\n"


def write(text: str) -> None:
    sys.stdout.write(text)


def write_file_text(text: str) -> None:
    """A file format on stdout (a TOML export): always UTF-8, whatever the locale, because the
    format says so; a non-Unicode stdout would otherwise turn `µ` into an escape TOML rejects."""
    from .streams import unicode_output

    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None or unicode_output():
        write(text)
        return
    sys.stdout.flush()
    buffer.write(text.encode("utf-8"))


def emit(answer: Answer, as_json: bool = False) -> int:
    """Print an answer; returns its exit code."""
    if as_json or answer.view == "json":
        write(json_text(answer.data))
    elif answer.view == "lines":
        from .sanitize import inert

        write("".join(inert(line) + "\n" for line in answer.lines or []))
    elif answer.view == "text":
        write_file_text(answer.data)
    else:
        from . import render

        pager = pager_command()
        if pager is None:
            getattr(render, answer.view)(answer)
        else:
            page(pager, lambda: getattr(render, answer.view)(answer))
    if answer.note:
        from .sanitize import inert

        sys.stderr.write(inert(answer.note) + "\n")  # may name a file: `kb check` on any path
    return answer.exit_code


# --- pager: long human output on a terminal, as git does --------------------------------------


def pager_command(environ=None, is_terminal: bool | None = None) -> list[str] | None:
    """The pager to use, or None: only when stdout is a terminal, never with --no-pager
    (LEUKO_NO_PAGER=1); LEUKO_PAGER, else PAGER, else `less -FRX` (quits when the text fits on
    one screen, keeps colour). LEUKO_PAGER set to "" or "cat" means no pager."""
    import os
    import shlex

    env = os.environ if environ is None else environ
    if is_terminal is None:
        is_terminal = sys.stdout.isatty()
    if not is_terminal or env.get("LEUKO_NO_PAGER"):
        return None
    choice = env.get("LEUKO_PAGER", env.get("PAGER", "less -FRX"))
    argv = shlex.split(choice)
    if not argv or argv[0] == "cat":
        return None
    import shutil

    return argv if shutil.which(argv[0]) else None


def page(pager: list[str], render) -> None:
    """Render into a buffer at the terminal's width and colour, then hand it to the pager."""
    import io
    import os
    import shutil
    import subprocess
    from contextlib import redirect_stdout

    size = shutil.get_terminal_size()
    buf = io.StringIO()
    saved = {k: os.environ.get(k) for k in ("COLUMNS", "LEUKO_COLOR")}
    os.environ["COLUMNS"] = str(size.columns)
    os.environ.setdefault("LEUKO_COLOR", "always")  # the buffer is not a terminal; less -R
    try:
        with redirect_stdout(buf):
            render()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = buf.getvalue()
    if text.count("\n") < size.lines:
        sys.stdout.write(text)  # fits on one screen: no pager at all
        return
    from .output_cache import taint

    taint("pager")  # the text went to the pager, not stdout: nothing to replay
    try:
        subprocess.run(pager, input=text, text=True, check=False)
    except OSError:
        sys.stdout.write(text)
