"""One exception family, one exit-code table, one place that turns an error into a line.

Every command, whichever path ran it (the start-up fast path or Typer), ends in `report`: one
line on stderr, the exit code from EXIT_CODES, never a traceback. docs/usage.md lists the table
(generated from EXIT_CODES; a test keeps them in step).
"""

from __future__ import annotations

import sys

# exit code -> meaning (docs/usage.md "Exit codes" is generated from this table)
EXIT_CODES = {
    0: "success",
    1: "the command ran, but some input rows failed (batch) or a checked file has problems "
    "(`kb check`)",
    2: "bad input or usage, including a file named on the command line that is missing or "
    "cannot be read: the message names the fix",
    3: "an unreadable or invalid data file of leuko's own: the knowledge base, your overlay or "
    "your config file",
    4: "output could not be written (disk full, closed output); a batch says how many rows "
    "were written",
    70: "internal error: a bug in leuko (the one line names it); please report it",
    130: "interrupted (Ctrl-C)",
}


class LeukoError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""

    exit_code = 2


class InputError(LeukoError):
    """Bad command-line or row input: exit 2, the message names the fix."""

    exit_code = 2


_AS_GIVEN = object()

# Excel's "Unicode Text" and Notepad's "Unicode" are UTF-16, with its byte-order mark
UTF16 = "UTF-16 text (it starts with a UTF-16 byte-order mark)"
SAVE_AS_UTF8 = "save it as UTF-8"


def is_utf16(data) -> bool:
    return isinstance(data, (bytes, bytearray)) and bytes(data[:2]) in (b"\xff\xfe", b"\xfe\xff")


def not_empty(option: str, value: str | None) -> None:
    """An option given as '' (`--category "$CAT"` with CAT unset) is refused: dropping it, or
    taking the default, would answer another question than the one asked."""
    if value is not None and not value.strip():
        raise InputError(f"{option} is empty; give a value, or leave {option} out")


def closest(value, choices) -> str | None:
    """The choice closest to a mistyped value (ignoring case), or None when none is close.
    Only a choice with the same digits is offered: '10^6/L' is not a typo of '10^9/L', nor
    '7.0' of '6.0' (following such a hint would grade 1000 times off, or by another table)."""
    import difflib
    import re

    text = str(value).strip().lower()
    digits = re.sub(r"\D", "", text)
    folded = {str(c).lower(): str(c) for c in choices}
    same = [c for c in folded if re.sub(r"\D", "", c) == digits]
    near = difflib.get_close_matches(text, same, n=1, cutoff=0.6)
    return folded[near[0]] if near else None


def nearest(value, choices) -> str:
    """` (did you mean 'x'?)`, or '' when no choice is close: the hint Click gives for commands
    and options, for an option's value too."""
    near = closest(value, choices)
    return f" (did you mean {near!r}?)" if near is not None else ""


def check_choice(what: str, value, choices, *, shown=_AS_GIVEN) -> None:
    """Refuse a value outside its choices, in the one wording every option uses:
    `unknown WHAT 'value'; use one of: a, b`. `shown` is the text as the user typed it, when
    the check is on a normalised form of it."""
    if value not in choices:
        text = value if shown is _AS_GIVEN else shown
        raise InputError(
            f"unknown {what} {text!r}{nearest(text, choices)}; use one of: {', '.join(choices)}"
        )


class KBError(LeukoError):
    """A data file (knowledge base, overlay, config, input file) is unreadable or breaks its
    schema: exit 3. `problems` holds every problem found; the message shows the first."""

    exit_code = 3

    def __init__(self, problems: list[str] | str, path: str | None = None, hint: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        self.hint = hint
        first = self.problems[0] if self.problems else "invalid knowledge base"
        if hint:
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            super().__init__(f"{first}{more}; {hint}")
            return
        more = (
            f" (+{len(self.problems) - 1} more; run `leuko kb check`)"
            if len(self.problems) > 1
            else ""
        )
        super().__init__(first + more)


DataFileError = KBError  # the name says what it covers; KBError stays for existing imports


class OutputError(LeukoError):
    """Writing the answer failed (e.g. ENOSPC): exit 4."""

    exit_code = 4


class OutputClosed(Exception):
    """The reader of stdout went away (`leuko ... | head`): a quiet exit 0. Deliberately not
    an OSError: Click turns EPIPE into exit 1, and this must pass it untouched."""


def one_line(text: str) -> str:
    """Messages may quote user input: keep them on one line, control characters visible, and
    at most MAX_MESSAGE characters (a quoted 1 MiB field must not flood the terminal)."""
    from .sanitize import inert

    line = inert(" ".join(str(text).split("\n")))
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


MAX_MESSAGE = 1000


def without_line(line: int, text: str) -> str:
    """A row's error text for a message that names its input line itself: the JSON Lines
    reader's row errors start with their line (the text is also the row's error cell)."""
    return str(text).removeprefix(f"line {line}: ")


def report(err: BaseException, prefix: str = "leuko: error: ") -> int:
    """Write the one-line message for `err` on stderr and return its exit code."""
    if isinstance(err, KeyboardInterrupt):
        message, code = "leuko: interrupted", 130
    elif isinstance(err, (BrokenPipeError, OutputClosed)):
        return 0  # `leuko ... | head`: the reader has what it wanted
    elif isinstance(err, LeukoError):
        message, code = prefix + one_line(str(err)), err.exit_code
    elif isinstance(err, OSError):  # e.g. writing to a full disk or a closed stdout
        reason = err.strerror or err.__class__.__name__
        message, code = f"{prefix}cannot write the output ({reason})", 4
    elif isinstance(err, MemoryError):
        message, code = f"{prefix}out of memory; split the input into smaller files", 70
    else:  # pragma: no cover - a bug: still one line, never a traceback
        text = one_line(f"{err.__class__.__name__}: {err}")[:300]
        message, code = f"{prefix}internal error ({text}); please report it", 70
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    return code


def silence_stdout() -> None:
    """After EPIPE or a failed write, point stdout at /dev/null so the interpreter's final
    flush cannot print a traceback."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run_guarded(fn) -> int:
    """Run `fn()` (which returns an exit code) and flush stdout; any error becomes one line
    on stderr and its exit code. The one wrapper both the fast path and Typer use."""
    from .streams import prepare

    try:
        prepare()  # closed streams and non-Unicode output, before anything is written
        code = fn()
        sys.stdout.flush()
        return code
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - LeukoError, OSError, KeyboardInterrupt
        code = report(err)
        if isinstance(err, (OSError, OutputError, OutputClosed)):
            silence_stdout()
        return code
