"""The memos the block streams (blocks.py, blocks_jsonl.py) share: dicts whose hits stay in C,
bounded by LIMIT entries and started again between blocks, and the two that map a raw value to
the first one seen that grades alike (an age or temperature in the same interval, a
differential with the same sum).
"""

from __future__ import annotations

from leuko_cli import inputs
from leuko_cli.errors import LeukoError

from .intervals import _slot

LIMIT = 16_384  # entries per memo; checked between blocks, so at most a block more
EXACT = None  # first item of a count token that stands for itself (not shared)
CUT, ERR = "\x00", "\x01"  # an error answer: drop the row's own anc part before it / as is


class _Memo(dict):
    """A memo (hits stay in C) whose side tables, named in SIDE, start again with it."""

    SIDE: tuple[str, ...] = ()

    def clear(self) -> None:
        super().clear()
        for name in self.SIDE:
            getattr(self, name).clear()


class _AnswerTexts(_Memo):
    """key (the values assess reads, reduced; the count token under "counts") -> the text a
    row's result adds to the row: text(result, shared), `shared` when the count token stands
    for others (the row's own anc part goes before the text) and not for itself (EXACT). An
    error answer starts with CUT (the row's own anc part must go) or ERR, and is kept in
    `errs`. Subclasses say how a stream's values become assess fields and how results read."""

    SIDE = ("errs",)

    def __init__(self, grader, names: tuple, unpack) -> None:
        super().__init__()
        self.grader, self.names, self.unpack = grader, names, unpack
        self.errs: set = set()  # the error answers' texts

    def fields(self, values: dict) -> dict:
        raise NotImplementedError

    def text(self, result: tuple, shared: bool) -> str:
        raise NotImplementedError

    def __missing__(self, key):
        values = dict(zip(self.names, key))
        shared = False
        if self.unpack is not None:
            token = values.pop("counts")
            shared = not (isinstance(token, tuple) and token[0] is EXACT)
            values.update(self.unpack(token if shared else token[1]))
        result = self.grader.columns(self.fields(values))
        text = self.text(result, shared)
        if result[-1] is not None:
            text = (CUT if shared else ERR) + text
            self.errs.add(text)
        self[key] = text
        return text


def trim(memos) -> None:
    """Start each full memo again (between blocks only: a block's maps need them)."""
    for memo in memos:
        if memo is not None and len(memo) >= LIMIT:
            memo.clear()


class _FirstOf(_Memo):
    """raw value -> the first raw value seen with the same key(raw); a value whose key is None
    (or cannot be worked out: LeukoError) stands for itself."""

    SIDE = ("first",)

    def __init__(self, key) -> None:
        super().__init__()
        self.key, self.first = key, {}

    def __missing__(self, raw):
        try:
            found = self.key(raw)
        except LeukoError:
            found = None
        token = raw if found is None else self.first.setdefault(found, raw)
        self[raw] = token
        return token


def _cell(raw: str) -> str | None:
    return raw if raw != "" else None  # "" is an empty cell


def place_memo(parse, bounds: list, value=_cell) -> _FirstOf:
    """An age or temperature -> the first one seen in its interval. `value(raw)` is what to
    parse, None for a raw value that shares with none (absent; in JSON, a true or false)."""

    def key(raw):
        found = value(raw)
        return None if found is None else _slot(parse(found), bounds)

    return _FirstOf(key)


def pair_memo(values=lambda pair: None if pair == ("", "") else tuple(map(_cell, pair))):
    """(neutrophils, bands) -> the first pair seen with the same sum. The two reach a batch row
    only through their sum (the ANC is WBC x sum / 100; the over-100 % message names the sum);
    a pair with a value that does not parse keeps itself. `values(pair)` gives the two values
    (None for an absent one), or None for a pair that shares with none."""

    def key(pair):
        both = values(pair)
        if both is None:
            return None
        return sum(
            inputs.percent(v, flag) if v is not None else 0.0
            for v, flag in zip(both, ("--neutrophils", "--bands"))
        )

    return _FirstOf(key)
