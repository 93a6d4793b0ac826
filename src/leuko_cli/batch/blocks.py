"""The CSV stream in blocks: per-row work in C, the same bytes out as the row loop (issue 18).

`grade_csv` takes over after the header has been read through today's path (LineSource,
CsvRows). It reads the rest of the file in blocks of whole lines and, for a block with nothing
unusual in it, does every per-row step with the standard library's C parts: one `csv.reader`
over the block, `zip(*rows)` to get the columns, dict lookups through `map` (the memos below,
whose misses run in Python), `map(operator.add, rows, cells)` and `writer.writerows`.

The answer memo is keyed by the tuple of a row's raw cells that `assess` reads, with the age
and the temperature replaced by a representative: the first raw value seen in the same interval
between the knowledge base's bounds (intervals.py: within one context, assess compares them
only with those bounds, so rows that differ only there get the same answer). A value that does
not parse is its own representative (its error names it). Error texts name no line number, so
an output row depends only on the row's own cells and the run's settings. A miss grades the
representative row through today's exact path (Grader.columns, its memo and intervals).

Anything unusual hands the rest of the file, from the start of the block, back to today's
path (LineSource, a csv.reader, grade.run), so messages, line numbers and exit codes are the
same: bytes that are not UTF-8, a line over the limit, a lone CR, a CSV error, a record that
spans lines. A block with blank lines, rows of the wrong width or cells that are not printable
goes through grade.run row by row (its line numbers are exact: one line is one record there).
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
from bisect import bisect_left
from itertools import repeat

from leuko_cli import inputs

from .grade import run
from .memos import CUT, EXACT, _AnswerTexts, _Memo, pair_memo, place_memo, trim
from .writers import csv_value

BLOCK_BYTES = 1 << 18  # bytes read a block (about 11,000 lines of a typical export)
# a file whose columns assess reads are one of these: its counts and its age and temperature
# reach an answer only through their intervals (intervals.py), within the flags' context
SHAPES = (("anc",), ("wbc", "neutrophils", "bands"))
PLACES = {"age": inputs.age_days, "temp": inputs.temperature}
DIFF = ("neutrophils", "bands")
SEP = "\x00"  # between a row's count cells in one key (a regular block has no such character)


class _Counts(_Memo):
    """raw count cells (the ANC; or the WBC cell + _PairText) -> the first cells seen
    with the same intervals.py key; `part` has the row's own `anc` cell (",450"). Cells that
    share no key (a value that does not parse, a differential of 100 %) stand for themselves:
    (EXACT, cells), with no part (the answer carries the anc cell)."""

    SIDE = ("part", "first")

    def __init__(self, grader, unpack, cell) -> None:
        super().__init__()
        self.grader, self.unpack, self.cell = grader, unpack, cell
        self.part: dict = {}
        self.first: dict = {}

    def __missing__(self, raw):
        fields = {f: v for f, v in self.unpack(raw).items() if v != ""}
        found = self.grader.intervals.key(self.grader.values(fields)) if fields else None
        if found is None:
            token, part = (EXACT, raw), ""
        else:
            token, part = self.first.setdefault(found[0], raw), "," + self.cell(found[1])
        self[raw], self.part[raw] = token, part
        return token


def _anc(raw) -> dict:
    return {"anc": raw}


def _wbc(raw: str) -> dict:
    wbc, neutrophils, bands = raw.split(SEP)
    return {"wbc": wbc, "neutrophils": neutrophils, "bands": bands}


class _PairText(_Memo):
    """(neutrophils, bands) cells -> SEP + neutrophils + SEP + bands of the first pair seen
    with the same sum: a row's count cells become one string (a WBC cell before it), hashed
    once for both memos that read it and never tracked by the garbage collector, as a tuple
    of a million rows would be (a collection every 700)."""

    SIDE = ("first",)

    def __init__(self) -> None:
        super().__init__()
        self.first = pair_memo()

    def __missing__(self, raw):
        text = self[raw] = SEP + SEP.join(self.first[raw])
        return text


class _Answers(_AnswerTexts):
    """key (the cells assess reads, reduced) -> the row's result cells as CSV text after its
    own cells: "," + cells + "\n" (from the anc cell on when the count token is exact or
    there is none, else after it); an error answer starts with CUT or ERR."""

    def __init__(self, grader, names: tuple, unpack, cell_line) -> None:
        super().__init__(grader, names, unpack)
        self.line = cell_line

    def fields(self, values: dict) -> dict:
        return {f: v for f, v in values.items() if v != ""}  # "" is an empty cell

    def text(self, result: tuple, shared: bool) -> str:
        cells = [csv_value(v) for v in result]
        return "," + self.line(cells[1:] if shared else cells)


class _Lists(_Memo):
    """As _Answers for blocks parsed by csv.reader: key -> [result cells]; `failed` has 1 for
    an error answer."""

    SIDE = ("failed",)

    def __init__(self, grader, names: tuple) -> None:
        super().__init__()
        self.grader, self.names, self.failed = grader, names, {}

    def __missing__(self, key):
        cells = key if isinstance(key, tuple) else (key,)
        result = self.grader.columns({f: v for f, v in zip(self.names, cells) if v != ""})
        self.failed[key] = 0 if result[-1] is None else 1
        out = self[key] = [csv_value(v) for v in result]
        return out


class _Rest(io.RawIOBase):
    """The bytes not yet graded (held), then the stream: what today's path reads after a
    hand-back."""

    def __init__(self, held: bytes, stream) -> None:
        self.held, self.stream = io.BytesIO(held), stream
        self.left = len(held)

    def readline(self, size: int = -1) -> bytes:
        line = self.held.readline(size)
        self.left -= len(line)
        if not self.left and not line.endswith(b"\n") and (size < 0 or len(line) < size):
            line += self.stream.readline(size - len(line) if size >= 0 else -1)
        return line


def write_rows(write, rows, summary, failed_in) -> None:
    """Hand the rows to the output one write call each, as the row loop does, so that a full
    disk or an output encoding error stops at the same row with the same count (the row
    loop counts the row whose write failed); failed_in(k): error rows among the first k."""
    done: list = []  # list.extend keeps what it got when the iterator raises
    try:
        done.extend(map(write, rows))
    except Exception:
        k = len(done) + 1
        failed = failed_in(k)
        summary.rows += k
        summary.errors += failed
        summary.graded += k - failed
        raise


def fixed(rows: list, rests: list, errs: set, plain: list, cut) -> list:
    """Rows whose answer is an error: CUT drops the row's own anc part (cut(i) gives the row
    without it), ERR is just removed. Returns the error rows' indexes (in order)."""
    if not errs:
        return []
    bad = list(itertools.compress(range(len(rests)), map(errs.__contains__, rests)))
    for i in bad:
        rest = rests[i]
        rows[i] = (cut(i) if rest[0] == CUT else plain[i]) + rest[1:]
    return bad


def usable(lines, rows) -> bool:
    """The header was read through `lines` (a LineSource over bytes) with nothing pending."""
    return (
        not lines.split
        and rows.reader.line_num == lines.line
        and isinstance(lines.stream.read(0), bytes)
    )


def _formatter():
    """cells -> their CSV line, exactly as the writer writes them."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def line(cells: list) -> str:
        buf.seek(0)
        buf.truncate()
        writer.writerow(cells)
        return buf.getvalue()

    return line


class _Blocks:
    """The memos and column layout of one file."""

    def __init__(self, grader, rows) -> None:
        self.grader, self.rows = grader, rows
        self.width = len(rows.header)
        columns = rows.columns
        line = _formatter()
        shape = next(
            (
                s
                for s in SHAPES
                if grader.intervals is not None
                and s[0] in columns
                and set(columns) <= {*s, *PLACES}
            ),
            None,
        )
        self.counts = tuple(f for f in shape if f in columns) if shape else ()
        names = ("counts",) if self.counts else ()
        names += tuple(sorted(f for f in columns if f not in self.counts))
        self.names = names
        self.places = {
            f: place_memo(PLACES[f], grader.intervals.bounds[f])
            for f in names
            if self.counts and f in PLACES
        }
        unpack = (_anc if shape[0] == "anc" else _wbc) if self.counts else None
        self.count_memo = (
            # a lone empty field would be quoted: the cell is formatted beside another
            _Counts(grader, unpack, lambda v: line([csv_value(v), ""])[:-2])
            if self.counts
            else None
        )
        self.pairs = _PairText()
        self.answers = _Answers(grader, names, unpack, line)
        self.lists = _Lists(grader, tuple(sorted(columns)))
        self.list_index = [columns[f] for f in sorted(columns)]
        self.list_places = {
            i: self.places[f] for i, f in enumerate(sorted(columns)) if f in self.places
        }

    def trim(self) -> None:
        """Start the memos again when full (between blocks only: a block's maps need them)."""
        trim((self.count_memo, self.pairs, self.answers, self.lists, *self.places.values()))

    def plain(self, text: str, out, summary) -> bool:
        """A block of comma-separated lines without quotes; False when it is not regular
        (blank lines, rows of the wrong width, characters that are not printable)."""
        if "\r" in text:
            text = text.replace("\r\n", "\n")  # a lone CR was refused before
        if not text.endswith("\n"):
            text += "\n"
        if text.startswith("\n") or "\n\n" in text:
            return False  # a blank line (with one column it would split like a row)
        n, width = text.count("\n"), self.width
        flat = text.replace("\n", "\n,").split(",")
        if len(flat) != width * n + 1:
            return False
        last = "".join(flat[width - 1 :: width])
        if last.count("\n") != n or not text.replace("\n", "").isprintable():
            return False
        columns = [flat[j:-1:width] for j in range(width - 1)]
        columns.append(last.split("\n")[:-1])
        lines = text.split("\n")
        lines.pop()
        index = self.rows.columns
        keys = []
        if self.counts:
            if self.counts[0] == "anc":
                count_raw = columns[index["anc"]]
            else:  # the WBC with its differential, reduced to its sum
                pair = [columns[index[f]] if f in index else repeat("", n) for f in DIFF]
                count_raw = list(
                    map(
                        operator.add, columns[index["wbc"]], map(self.pairs.__getitem__, zip(*pair))
                    )
                )
            keys.append(map(self.count_memo.__getitem__, count_raw))
        for f in self.names[1 if self.counts else 0 :]:
            col = columns[index[f]]
            keys.append(map(self.places[f].__getitem__, col) if f in self.places else col)
        # a list: the count memo must have seen every row before its parts are read
        rests = list(map(self.answers.__getitem__, zip(*keys)))
        if self.counts:
            parts = map(self.count_memo.part.__getitem__, count_raw)
            rows = list(map(operator.add, map(operator.add, lines, parts), rests))
        else:
            rows = list(map(operator.add, lines, rests))
        # an error row: its anc cell is empty (CUT: the part after the line is dropped)
        errors = fixed(rows, rests, self.answers.errs, lines, lambda i: lines[i] + ",")
        failed = len(errors)
        write_rows(out.write, rows, summary, lambda k: bisect_left(errors, k))
        summary.rows += n
        summary.errors += failed
        summary.graded += n - failed
        return True

    def parsed(self, table: list, writer, summary) -> bool:
        """A regular block parsed by csv.reader (quotes, another delimiter)."""
        columns = list(zip(*table))
        cells = [columns[i] for i in self.list_index]
        for i, memo in self.list_places.items():
            cells[i] = map(memo.__getitem__, cells[i])
        keys = list(zip(*cells)) if len(cells) > 1 else list(cells[0])
        found = map(self.lists.__getitem__, keys)
        write_rows(
            writer.writerow,
            map(operator.add, table, found),
            summary,
            lambda k: sum(map(self.lists.failed.__getitem__, keys[:k])),
        )
        failed = sum(map(self.lists.failed.__getitem__, keys))
        summary.rows += len(table)
        summary.errors += failed
        summary.graded += len(table) - failed
        return True


def read_blocks(stream, limit: int, held: bytes = b""):
    """(a block of whole lines, the bytes read after it), to the end of the stream; the last
    block may lack its newline. (None, the bytes read) when a line passes the limit before
    its end. Only new bytes are searched and a long line is joined once (not once a read)."""
    pending: list = []  # reads without a newline, after held
    size = len(held)
    while True:
        data = stream.read(BLOCK_BYTES)
        if not data:
            block = held + b"".join(pending)
            if block:
                yield block, b""
            return
        cut = data.rfind(b"\n") + 1
        size += len(data)
        if not cut:
            pending.append(data)
            if size > limit:
                yield None, held + b"".join(pending)
                return
            continue
        if pending:
            held += b"".join(pending)
            pending = []
        chunk = held + data if held else data
        cut += len(held)
        block, held = chunk[:cut], chunk[cut:]
        size = len(held)
        yield block, held


def decoded(block: bytes, limit: int) -> str:
    """The block as text; ValueError where today's path must word the problem itself: a lone
    CR (it splits such lines its own way), a line over the limit, bytes that are not UTF-8."""
    if block.count(b"\r") != block.count(b"\r\n"):
        raise ValueError
    if len(block) > limit and max(map(len, block.splitlines(True))) > limit:
        raise ValueError
    return block.decode()


def grade_csv(grader, lines, rows, writer, summary) -> None:
    """Grade the rest of a CSV file (after its header) in blocks; on_error is "row"."""
    stream, limit = lines.stream, lines.limit
    dialect = rows.reader.dialect
    memos = _Blocks(grader, rows)
    width = memos.width
    comma = dialect.delimiter == ","
    printable = dialect.delimiter.isprintable()
    for block, held in read_blocks(stream, limit):
        if block is None:  # a line over the limit: today's path names it
            return _hand_back(grader, lines, rows, writer, summary, held, stream)
        before = summary.rows
        try:
            text = decoded(block, limit)
            if comma and '"' not in text:
                start = lines.line
                if memos.plain(text, writer.out, summary):
                    lines.line += text.count("\n") + (not text.endswith("\n"))
                    memos.trim()
                    continue
                table = _table(text, dialect)
            else:
                start = lines.line
                table = _table(text, dialect)
        except (ValueError, csv.Error):  # UnicodeDecodeError is a ValueError
            if summary.rows != before:
                raise  # the output failed part-way (write_rows counted it): never write twice
            return _hand_back(grader, lines, rows, writer, summary, block + held, stream)
        n = block.count(b"\n") + (not block.endswith(b"\n"))
        # a record over several lines; or the block may end inside a quoted field, which
        # csv.reader ends quietly at the end of its input (_table: no blank record after it)
        if (
            table is None
            or len(table) != n
            or any(c & 1 for c in map(str.count, text.split("\n"), repeat('"')))
        ):
            return _hand_back(grader, lines, rows, writer, summary, block + held, stream)
        lines.line += n
        if min(map(len, table)) == width == max(map(len, table)) and (
            text.replace("\r\n", "").replace("\n", "").isprintable()
            if printable
            else all(map(str.isprintable, map("".join, table)))
        ):
            if not memos.parsed(table, writer.writer, summary):
                _row_by_row(grader, rows, table, start, writer, summary)
        else:
            _row_by_row(grader, rows, table, start, writer, summary)
        memos.trim()
    writer.close()


def _table(text: str, dialect) -> list | None:
    """The block's records; None when its last line ends inside a quoted field (even with an
    even number of quotes on it: `a","b`), which csv.reader would end quietly at the end of
    its input: a blank line after the block must then be read as a blank record."""
    # lines end at "\n" only, as LineSource reads them (str.splitlines also ends one at a form
    # feed, U+2028 and others: cell text there)
    table = list(csv.reader(itertools.chain(io.StringIO(text, "\n"), ["\n"]), dialect))
    if not table or table[-1] != []:
        return None
    table.pop()
    return table


def _row_by_row(grader, rows, table, start, writer, summary) -> None:
    """A block with blank lines, rows of the wrong width or unprintable cells: the rows as
    CsvRows gives them (one line is one record here), through today's loop."""
    from .readers import csv_record

    width, columns = len(rows.header), list(rows.columns.items())

    def each():
        for line, row in zip(range(start + 1, start + 1 + len(table)), table):
            if row:  # else a blank line
                yield csv_record(line, row, width, columns)

    run(grader, each(), _Open(writer), summary, start=summary.rows + 1)


class _Open:
    """The writer, not closed by one block's run."""

    def __init__(self, writer) -> None:
        self.write = writer.write

    def close(self) -> None:
        pass


def _hand_back(grader, lines, rows, writer, summary, held: bytes, stream) -> None:
    """Today's path from the start of `held` to the end of the file."""
    lines.stream = _Rest(held, stream)
    rows.offset = lines.line
    rows.reader = csv.reader(iter(lines), rows.reader.dialect)
    run(grader, rows, writer, summary, start=summary.rows + 1)
