"""The one batch loop: every row, from any reader, through `assess.assess`.

A row's own values override the command's flags (which are defaults for every row); the
unit and CTCAE version fall back to the resolved settings. Each row's batch result columns
(fields.BATCH_RESULTS) come from the same result `leuko assess --json` prints, so a row and the
same numbers typed by hand give the same answer and the same error text. Lab exports repeat
themselves, so answers are memoised by the row's values (bounded: memory stays flat).
"""

from __future__ import annotations

import math

from leuko_cli.assess import assess
from leuko_cli.errors import LeukoError
from leuko_cli.fields import BATCH_RESULTS, batch_values

from .intervals import ANSWERS, Intervals
from .readers import RowError

MEMO_LIMIT = 65_536  # distinct cases remembered before the memo starts again
_GRADED = BATCH_RESULTS[:-1]


ON_ERROR = {  # --on-error choice -> what a bad row does (docs/batch.md lists these)
    "row": "written with its error column filled; the run goes on (the default)",
    "skip": "left out of the output; a line on stderr names its input line and the error",
    "fail": "stops the run; stderr names the input line, the error and how many rows were written",
}


class RowFailed(Exception):
    """--on-error fail: the first bad row stops the run."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class Summary:
    __slots__ = ("rows", "graded", "errors", "skipped")

    def __init__(self) -> None:
        self.rows = self.graded = self.errors = self.skipped = 0

    @property
    def written(self) -> int:
        return self.rows - self.skipped

    def line(self) -> str:
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return f"leuko: {self.rows} row(s), {self.graded} graded, {self.errors} error(s){skipped}"


class Grader:
    """Grades field dicts; `defaults` are the command's flags (None when not given)."""

    def __init__(
        self, kb, settings: dict, defaults: dict | None = None, *, memo: bool = True
    ) -> None:
        self.kb, self.settings = kb, settings
        self.defaults = {k: v for k, v in (defaults or {}).items() if v is not None}
        self.memo: dict[tuple, tuple] = {}
        self.limit = MEMO_LIMIT if memo else 0
        # the second level: rows that assess cannot tell apart share one answer
        self.intervals = Intervals(kb, settings) if memo else None

    def values(self, fields: dict) -> dict:
        return {**self.defaults, **fields} if self.defaults else fields

    def result(self, fields: dict) -> dict:
        """The full assess result of one row (raises LeukoError)."""
        return assess(self.kb, self.values(fields), self.settings, origin="row")

    def columns(self, fields) -> tuple:
        """The BATCH_RESULTS values of one row; errors become the last column."""
        if isinstance(fields, RowError):
            return (None,) * len(_GRADED) + (str(fields),)
        if not self.limit:
            return self._assess(self.values(fields))
        values = self.values(fields)
        try:
            # a JSON true equals 1 in a key but is not the same input: never memoised
            types = tuple(map(type, fields.values()))
            found = None if bool in types else self.intervals.key(values)
        except TypeError:  # a JSON list or object as a value: not hashable, not memoised
            return self._assess(values)
        if found is not None:
            answers = self.intervals.answers
            shared = answers.get(found[0])
            if shared is not None:
                return shared if found[1] is None else (found[1], *shared[1:])
            out = self._assess(values)
            if out[-1] is None:
                _remember(answers, found[0], out, ANSWERS)
            return out
        if bool in types:
            return self._assess(values)
        # anything else (errors, lymphocytes, ...): by the row's own values and their types
        # (1, 1.0 and "1" are different inputs); the defaults are the same for every row
        key = (tuple(fields.items()), types)
        if float in types:  # -0.0 equals 0.0 in a key, but an error names the value as read
            key += (tuple(math.copysign(1.0, v) for v in fields.values() if type(v) is float),)
        try:
            out = self.memo.get(key)
        except TypeError:  # a JSON list or object as a value: not hashable, not memoised
            return self._assess(values)
        if out is None:
            out = self._assess(values)
            _remember(self.memo, key, out, self.limit)
        return out

    def _assess(self, values: dict) -> tuple:
        try:
            r = assess(self.kb, values, self.settings, origin="row")
            return batch_values(r) + (None,)
        except LeukoError as err:
            return (None,) * len(_GRADED) + (str(err),)


def _remember(memo: dict, key, value, limit: int) -> None:
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value


def run(
    grader: Grader, rows, writer, summary: Summary, progress=None, on_error="row", start: int = 1
) -> None:
    """Grade every row and hand it to the writer: the one loop. A bad row follows `on_error`
    (ON_ERROR). Rows already handed over are flushed (tables too) even when the input breaks
    off, so the output written so far is whole."""
    try:
        for n, (line, fields, passthrough) in enumerate(rows, start=start):
            result = grader.columns(fields)
            if result[-1] is None:
                summary.graded += 1
            else:
                summary.errors += 1
                if on_error != "row":
                    if on_error == "fail":
                        raise RowFailed(line, result[-1])
                    summary.rows = n
                    summary.skipped += 1
                    _skipped(line, result[-1])
                    continue
            summary.rows = n
            writer.write(passthrough, result)
            if progress is not None and not n % 1000:
                progress(n)
    except OSError:
        raise  # the output itself failed: writing more would only fail again
    except Exception:  # the input broke off (StreamError, csv.Error, RowFailed...)
        writer.close()
        raise
    writer.close()
    if progress is not None:
        progress(summary.rows)


def _skipped(line: int, message: str) -> None:
    import sys

    from leuko_cli.errors import one_line, without_line

    sys.stderr.write(f"leuko: line {line}: skipped: {one_line(without_line(line, message))}\n")
