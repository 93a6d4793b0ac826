"""JSON Lines to JSON Lines in blocks: the same bytes out as the row loop (issue 18).

As blocks.py does for CSV: a block of whole lines is parsed as one JSON array (one call into
the C decoder), the objects are dumped back as one array (one call into the C encoder) and cut
into rows, and each row's answer comes from memos keyed by the values (and their JSON types:
1, 1.0, "1" and true are different inputs) that assess reads, the ANC, the differential, the
age and the temperature reduced as in blocks.py. A row is "{" + its own members (a member named
like a result column renamed NAME_input) + its result members + "}", as ObjectWriter writes it.

A block is taken this way only when it is plain: every line holds exactly one `{` and one `}`
(so each line is one flat object and no string holds a brace), no backslash (no escapes, so a
key's text can be found and renamed), no NaN or Infinity, no key twice, no empty object, no
array value, no two keys for one field, no -0.0 in a field assess reads (it equals 0.0 as a
key), and the rows dump back to no Infinity. Any other block goes through readers.jsonl_rows
and grade.run with its own line numbers; bytes that are not UTF-8, a lone CR or a line over
the limit hand the rest of the file back to today's path.
"""

from __future__ import annotations

import csv
import io
import json
import operator
from bisect import bisect_left
from itertools import repeat

from leuko_cli.fields import BATCH_RESULTS
from leuko_cli.sanitize import escape_json_unsafe

from . import blocks
from .blocks import DIFF, PLACES, _Open, _Rest, fixed, write_rows
from .grade import run
from .memos import EXACT, _AnswerTexts, _Memo, pair_memo, place_memo, trim
from .readers import field_of, jsonl_rows
from .writers import csv_value

NONE = (None, type(None))
_DECODE = json.JSONDecoder(object_pairs_hook=tuple).decode  # an object: a tuple of pairs
_RESULTS = set(BATCH_RESULTS)
_INF = float("inf")


def _plain(value) -> bool:
    """A value that may share a representative (not a JSON true/false, not absent)."""
    return value[0] is not None and value[1] is not bool


def _place(raw: tuple):
    return raw[0] if _plain(raw) else None


def _pair(pair: tuple) -> tuple | None:
    if pair == (NONE, NONE) or not all(_plain(v) or v == NONE for v in pair):
        return None
    return tuple(v[0] for v in pair)


def _anc(raw) -> dict:
    return {"anc": raw[0]}


def _wbc(raw) -> dict:
    return {"wbc": raw[0][0], "neutrophils": raw[1][0][0], "bands": raw[1][1][0]}


class _Counts(_Memo):
    """The count values -> the first ones seen with the same intervals.py key, and `part`:
    the row's own `, "anc": 450` member; (EXACT, raw) for values that share nothing."""

    SIDE = ("part", "cell", "first")

    def __init__(self, grader, unpack, encode) -> None:
        super().__init__()
        self.grader, self.unpack, self.encode = grader, unpack, encode
        self.part: dict = {}
        self.cell: dict = {}  # the same as CSV text: "450", or "" for an exact token
        self.first: dict = {}

    def __missing__(self, raw):
        fields = {f: v for f, v in self.unpack(raw).items() if v is not None}
        found = None
        if fields and bool not in map(type, fields.values()):
            found = self.grader.intervals.key(self.grader.values(fields))
        if found is None:
            token, part, cell = (EXACT, raw), "", ""
        else:
            token = self.first.setdefault(found[0], raw)
            part, cell = ', "anc": ' + self.encode(found[1]), _CELL(csv_value(found[1]))
        self[raw], self.part[raw], self.cell[raw] = token, part, cell
        return token


class _Answers(_AnswerTexts):
    """key -> the row's result members: `, "severity": ...}` after its own anc member, or
    `, "anc": ..., ...}` when the count token is exact or there is none; CUT/ERR mark errors.
    With `cells`, the same as CSV text: the cells after the row's own anc cell (",severity,...")
    or from it ("450,severity,..."), with CUT/ERR in front of an error answer."""

    def __init__(self, grader, names: tuple, unpack, encode, cells: bool = False) -> None:
        super().__init__(grader, names, unpack)
        self.encode, self.cells = encode, cells

    def fields(self, values: dict) -> dict:
        # the names' values are (value, JSON type) pairs; the count token's are unpacked
        own = {f: v[0] if f in self.names else v for f, v in values.items()}
        return {f: v for f, v in own.items() if v is not None}

    def text(self, result: tuple, shared: bool) -> str:
        if self.cells:
            text = _LINE([csv_value(v) for v in result[1 if shared else 0 :]])
            return "," + text if shared else text
        if shared:
            text = self.encode(dict(zip(BATCH_RESULTS[1:], result[1:])))
        else:
            text = self.encode(dict(zip(BATCH_RESULTS, result)))
        return ", " + text[1:] + "\n"


class _Memos:
    """Memos of one run; the field layout is worked out per block (keys vary by row)."""

    def __init__(self, grader, ascii_only: bool, csv: bool) -> None:
        self.grader, self.csv = grader, csv
        encoder = json.JSONEncoder(ensure_ascii=ascii_only)
        self.encode, self.ascii_only = encoder.encode, ascii_only
        reduce = grader.intervals is not None
        self.places = (
            {f: place_memo(PLACES[f], grader.intervals.bounds[f], _place) for f in PLACES}
            if reduce
            else {}
        )
        self.pairs = pair_memo(_pair)
        self.by_shape: dict = {}

    def memos(self, fields: tuple):
        """(count shape, names, count memo, answer memo) for a block's set of fields."""
        found = self.by_shape.get(fields)
        if found is None:
            shape = None
            if self.places:
                if "anc" in fields and set(fields) <= {"anc", *PLACES}:
                    shape = "anc"
                elif "wbc" in fields and set(fields) <= {"wbc", *DIFF, *PLACES}:
                    shape = "wbc"
            unpack = {"anc": _anc, "wbc": _wbc, None: None}[shape]
            rest = tuple(sorted(f for f in fields if shape is None or f not in (shape, *DIFF)))
            names = (("counts",) if shape else ()) + rest
            counts = _Counts(self.grader, unpack, self.encode) if shape else None
            answers = _Answers(self.grader, names, unpack, self.encode, self.csv)
            found = (shape, names, counts, answers)
            if len(self.by_shape) >= 64:
                self.by_shape.clear()
            self.by_shape[fields] = found
        return found

    def trim(self) -> None:
        memos = [self.pairs, *self.places.values()]
        for _shape, _names, counts, answers in self.by_shape.values():
            memos += [counts, answers]
        trim(memos)

    def block(self, text: str, lines: list, writer, summary) -> bool:
        """Grade a plain block (see the module's docstring); False when it is not plain."""
        n = len(lines)
        if (
            "\\" in text
            or "NaN" in text
            or "Infinity" in text
            or list(map(str.count, lines, repeat("{"))).count(1) != n
            or list(map(str.count, lines, repeat("}"))).count(1) != n
        ):
            return False
        try:
            pairs = _DECODE("[" + ",".join(lines) + "]")
        except (ValueError, RecursionError):
            return False
        if len(pairs) != n or set(map(type, pairs)) != {tuple}:
            return False
        objs = list(map(dict, pairs))
        sizes = list(map(len, objs))
        if sizes != list(map(len, pairs)) or 0 in sizes:
            return False  # a key twice, or an empty object
        keys = set().union(*objs)
        by_field: dict = {}
        for k in keys:
            f = field_of(k)
            if f is not None:
                if f in by_field:
                    return False  # two keys for one field (maybe in different rows)
                by_field[f] = k
        if not by_field:
            return False  # no field at all: every row is the same error, graded one by one
        renamed = {k: f"{k}_input" for k in keys if k in _RESULTS}
        if any(v in keys for v in renamed.values()):
            return False
        shape, names, counts, answers = self.memos(tuple(sorted(by_field)))
        columns = {}
        for f, k in by_field.items():
            col = list(map(dict.get, objs, repeat(k)))
            kinds = list(map(type, col))
            if list in kinds or dict in kinds:
                return False
            if float in kinds and 0.0 in col and _NEGATIVE_ZERO in map(_sign_of_zero, col):
                return False  # -0.0 shares a memo key with 0.0; an error names it as read
            columns[f] = list(zip(col, kinds))
        if self.csv:
            if not text.replace("\n", "").isprintable():
                return False  # (no escapes: this is every string's text) inert() would act
            passed = self._passthrough(objs, writer, renamed)
            if passed is None:
                return False
        else:
            own = self.encode(objs)
            if "Infinity" in own or "NaN" in own:
                return False  # a number too large for a float
            for k, new in renamed.items():
                own = own.replace(f'"{k}": ', f'"{new}": ')
            inner = own[1:-2].split("}, ")  # each row from its "{", without its "}"
            if len(inner) != n:
                return False
        keyed = []
        if shape == "anc":
            count_raw = columns["anc"]
        elif shape == "wbc":
            pair = [columns.get(f) or repeat(NONE, n) for f in DIFF]
            count_raw = list(zip(columns["wbc"], map(self.pairs.__getitem__, zip(*pair))))
        if shape:
            keyed.append(map(counts.__getitem__, count_raw))
        for f in names[1 if shape else 0 :]:
            col = columns[f]
            keyed.append(map(self.places[f].__getitem__, col) if f in self.places else col)
        rests = list(map(answers.__getitem__, zip(*keyed)))
        if self.csv:
            if self._overflow(objs, keys, writer, renamed):
                return False  # a number too large for a float: today's reader refuses the row
            # each row's own cells end in "," (the separator before the result cells)
            if shape:
                cells = map(counts.cell.__getitem__, count_raw)
                rows = list(map(operator.add, map(operator.add, passed, cells), rests))
            else:
                rows = list(map(operator.add, passed, rests))
            # an error row: its anc cell is empty (CUT: the row's own is dropped)
            errors = fixed(rows, rests, answers.errs, passed, passed.__getitem__)
            write_rows(writer.out.write, rows, summary, lambda k: bisect_left(errors, k))
            summary.rows += n
            summary.errors += len(errors)
            summary.graded += n - len(errors)
            return True
        if shape:
            parts = map(counts.part.__getitem__, count_raw)
            rows = list(map(operator.add, map(operator.add, inner, parts), rests))
        else:
            rows = list(map(operator.add, inner, rests))
        # an error row: ERR rows have no part; CUT rows get a null anc instead of theirs
        errors = fixed(rows, rests, answers.errs, inner, lambda i: inner[i] + ', "anc": null')
        if not self.ascii_only and not all(map(str.isascii, rows)):
            rows = list(map(escape_json_unsafe, rows))
        write_rows(writer.out.write, rows, summary, lambda k: bisect_left(errors, k))
        summary.rows += n
        summary.errors += len(errors)
        summary.graded += n - len(errors)
        return True

    @staticmethod
    def _overflow(objs: list, keys: set, writer, renamed: dict) -> bool:
        """A key the CSV output leaves out (first seen after the first row) holds a number
        too large for a float (the written columns were checked already)."""
        back = {new: k for k, new in renamed.items()}
        # the input columns only: a key named like a result column ("error") is not written
        written = {back.get(c, c) for c in writer.table.columns[: -len(BATCH_RESULTS)]}
        for k in keys - written:
            col = list(map(dict.get, objs, repeat(k)))
            if _INF in col or -_INF in col:
                return True
        return False

    @staticmethod
    def _passthrough(objs: list, writer, renamed: dict) -> list | None:
        """The rows' own CSV cells as text, each row's ending in "," (the separator before
        its result cells), by the columns of the first object of the file (as ObjectWriter);
        None when a cell would need csv_value's care (true/false, arrays)."""
        if writer.table is None:
            return None  # the first row names the columns: today's path writes it
        names = writer.table.columns[: -len(BATCH_RESULTS)]
        back = {new: k for k, new in renamed.items()}
        cells = []
        for name in names:
            col = list(map(dict.get, objs, repeat(back.get(name, name))))
            kinds = set(map(type, col))
            if not kinds <= {str, int, float, type(None)}:
                return None
            if float in kinds and (_INF in col or -_INF in col):
                return None  # a number too large for a float: today's reader refuses the row
            cells.append(map(_EMPTY.get, col, col) if type(None) in kinds else col)
        # one writerows call for the block; the empty last cell keeps a lone empty cell from
        # being quoted as a row of its own would be (it is not alone in the output row)
        cells.append(repeat("", len(objs)))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(zip(*cells))
        rows = buf.getvalue().split("\n")
        rows.pop()
        # a JSON string holds no raw line break (the decoder refuses control characters)
        return rows if len(rows) == len(objs) else None


_EMPTY = {None: ""}
_LINE = blocks._formatter()  # cells -> their CSV line, as the writer writes them


def _CELL(value) -> str:
    """One CSV cell's text (formatted beside another: a lone empty cell would be quoted)."""
    return _LINE([value, ""])[:-2]


_NEGATIVE_ZERO = "-0.0"


def _sign_of_zero(value):
    return repr(value) if type(value) is float and value == 0 else None


def grade_jsonl(grader, lines, first: str, writer, summary) -> None:
    """Grade a JSON Lines file to JSON Lines in blocks, `first` (the first non-blank line,
    already read) included; on_error is "row"."""
    stream, limit = lines.stream, lines.limit
    memos = _Memos(grader, writer.ascii_only, writer.fmt == "csv")
    lines.line -= 1  # `first` is read again, as the first line of the first block
    for block, held in blocks.read_blocks(stream, limit, first.encode()):
        if block is None:  # a line over the limit: today's path names it
            return _hand_back(grader, lines, writer, summary, held, stream)
        try:
            text = blocks.decoded(block, limit)
        except ValueError:  # UnicodeDecodeError is a ValueError
            return _hand_back(grader, lines, writer, summary, block + held, stream)
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if not text.endswith("\n"):
            text += "\n"
        rows = text.split("\n")
        rows.pop()
        start = lines.line
        lines.line += len(rows)
        if not memos.block(text, rows, writer, summary):
            numbered = jsonl_rows([r + "\n" for r in rows], start=start + 1)
            run(grader, numbered, _Open(writer), summary, start=summary.rows + 1)
        memos.trim()
    writer.close()


def _hand_back(grader, lines, writer, summary, held: bytes, stream) -> None:
    """Today's path from the start of `held` to the end of the file."""
    lines.stream = _Rest(held, stream)
    start = lines.line + 1
    run(grader, jsonl_rows(iter(lines), start=start), writer, summary, start=summary.rows + 1)
