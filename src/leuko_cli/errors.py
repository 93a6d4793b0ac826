"""Exceptions the CLI turns into one-line messages and exit codes (no tracebacks)."""

from __future__ import annotations


class LeukoError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""

    exit_code = 1


class InputError(LeukoError):
    """Bad command-line input: exit 2, the message names the fix."""

    exit_code = 2


class KBError(LeukoError):
    """A knowledge-base (or overlay/config) file is unreadable or breaks the schema: exit 1."""

    exit_code = 1

    def __init__(self, problems: list[str] | str, path: str | None = None,
                 hint: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        self.hint = hint
        first = self.problems[0] if self.problems else "invalid knowledge base"
        if hint:
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            super().__init__(f"{first}{more}; {hint}")
            return
        more = (f" (+{len(self.problems) - 1} more; run `leuko kb check`)"
                if len(self.problems) > 1 else "")
        super().__init__(first + more)
