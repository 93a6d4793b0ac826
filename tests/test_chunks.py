"""The piecewise rebuild (kb/chunks.py) gives exactly what the whole-file path gives, or steps
aside (None) so that the whole-file path runs and words the errors."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leuko_cli.errors import KBError
from leuko_cli.kb import chunks, match, search, validation
from leuko_cli.kb_state import bundled_file

kbload = sys.modules["leuko_cli.kb.load"]
BUNDLED = open(bundled_file(), "rb").read()  # noqa: SIM115 - read once for the module


@pytest.fixture(scope="module")
def _shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("chunk-memo")


@pytest.fixture(autouse=True)
def warm_memo(_shared_cache, monkeypatch):
    """One cache dir for the module, as one user's runs share theirs: the bundled KB's pieces
    are computed once, not per test (tests that damage the memo use their own dir)."""
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(_shared_cache))


def cause(ident: str, **fields: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in fields.items())
    return (
        f'[[causes]]\nid = "{ident}"\nname = "Test cause {ident}"\ncategory = "drugs"\n'
        f'synonyms = ["syn {ident}"]\nlineages = ["neutrophils"]\n'
        f'summary = "Synthetic {ident}."\npatient_summary = "Made up."\n'
        'mechanism = "reduced-production"\nmechanism_detail = "Synthetic."\n'
        "last_reviewed = 2026-11-22\n"
        'course = "transient"\norigin = "extrinsic"\nfeatures = ["a"]\nworkup = ["b"]\n'
        'management = ["c"]\nreferences = ["andersohn2007"]\nreview_status = "draft"\n' + extra
    )


def real_build(overlay: bytes | None):
    return chunks.build.real(BUNDLED, "causes.toml", overlay, "overlay.toml" if overlay else None)


def whole(overlay: bytes | None) -> dict | None:
    try:
        return kbload.build(BUNDLED, "causes.toml", overlay, "overlay.toml" if overlay else None)
    except KBError:
        return None


def agree(overlay: bytes | None):
    """Both paths on one input: the piecewise one equals the whole-file one, or is None."""
    expected = whole(overlay)
    got = real_build(overlay)
    if expected is None:
        assert got is None, "the piecewise path accepted a KB the whole-file path refuses"
        return None
    if got is None:
        return None
    full = got.full()

    def dump(kb: dict) -> str:  # order-sensitive, unlike ==
        return json.dumps(kb, ensure_ascii=False)

    assert dump(full) == dump(expected)
    assert got.bodies == [
        json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode()
        for c in expected["causes"]
    ]
    assert got.index_text == match.index_text(expected["causes"])
    assert search.rows(lambda n: got.merged.get(n) or [], got.row_of) == search.rows(
        lambda n: expected.get(n) or []
    )
    return got


def test_bundled_kb_alone_takes_the_whole_file_path():
    """Built once per release (and shipped prebuilt in the wheel): a cold memo would cost more."""
    assert real_build(None) is None


def test_bundled_kb_with_an_empty_overlay_agrees_cold_and_from_the_memo():
    assert agree(b"") is not None
    assert agree(b"") is not None  # every piece from the memo now


def test_an_edit_recomputes_only_the_pieces_it_changed(monkeypatch):
    overlay = "".join(cause(f"t{i}") for i in range(30))
    assert agree(overlay.encode()) is not None
    computed = []
    real = chunks._compute
    monkeypatch.setattr(chunks, "_compute", lambda *a: computed.append(a[0]) or real(*a))
    edited = overlay.replace('summary = "Synthetic t7."', 'summary = "Edited t7."')
    assert agree(edited.encode()) is not None
    assert computed == ["causes"]
    assert agree((edited + "# a comment\n").encode()) is not None
    assert computed == ["causes", "causes"]  # the last piece holds the comment


HEADER_IN_STRING = cause("s1", management='["""\nfirst\n[[causes]]\nid = "ghost"\n"""]').replace(
    'management = ["c"]\n', "", 1
)
REFERENCE = (
    '[[references]]\nid = "mine2026"\nkind = "web"\nauthors = []\ntitle = "A page"\n'
    'journal = "A site"\nyear = 2026\nurl = "https://example.org/a"\nverified = false\n'
)
HEADER_IN_ARRAY = cause("a1").replace('features = ["a"]', 'features = [\n"a",\n"[[causes]]",\n]')
# entry_lines() reads a `[settings]` line inside a string as the settings table: the whole
# file's settings_origin then takes the line of a key written after it, in an entry's piece
SETTINGS_IN_STRING = cause("s2", summary='"""\n[settings]\ndefault_region = "UK"\n"""').replace(
    'summary = "Synthetic s2."\n', "", 1
)

CASES = {
    "empty": "",
    "comments only": "# nothing here\n",
    "one new cause": cause("n1"),
    "two new causes": cause("n1") + "\n" + cause("n2"),
    "a bundled cause replaced": cause("acute-leukaemia").replace(
        '"andersohn2007"', '"gorczyca-myeloblasts", "renteria2023", "bmj-bp-272"'
    ),
    "settings and a cause": '[settings]\ndefault_region = "UK"\n\n' + cause("n1"),
    "CRLF line ends": (cause("n1") + cause("n2")).replace("\n", "\r\n"),
    "header with a comment": cause("n1").replace("[[causes]]", "[[causes]]  # mine") + cause("n2"),
    "header inside a multi-line string": HEADER_IN_STRING + cause("n2"),
    "header inside a multi-line array": HEADER_IN_ARRAY + cause("n2"),
    "line separators inside a string": cause("u1").replace("Synthetic u1.", "a\u2028b\u0085c")
    + cause("u2"),
    "its own source key": cause("p1", source='"somewhere"') + cause("p2"),
    "its own source_location key": cause("p1", source_location='"x:1"'),
    "a table after an entry": cause("n1") + '[settings]\ndefault_region = "UK"\n',
    "an indented header": cause("n1") + "  " + cause("n2"),
    "a quoted header": cause("n1") + cause("n2").replace("[[causes]]", '[["causes"]]'),
    "a repeated id": cause("n1") + cause("n1"),
    "a dangling reference": cause("n1").replace("andersohn2007", "no-such-ref"),
    "an unknown field": cause("n1", colour='"red"'),
    "bad TOML in one piece": cause("n1") + cause("n2").replace('origin = "extrinsic"', "origin ="),
    "an unknown top-level table": cause("n1") + "[[nonsense]]\nid = 1\n",
    "a review record": cause("r1").replace('"draft"', '"reviewed"')
    + '\n[[causes.review]]\ndate = 2026-11-01\nreviewer = "x"\nchecked = ["y"]\n'
    + 'corrections = ["z"]\n',
    "a review dated after meta.last_updated": cause("r1")
    + '\n[[causes.review]]\ndate = 2099-01-01\nreviewer = "x"\nchecked = ["y"]\n'
    + 'corrections = ["z"]\n',
    "reviewed without a record": cause("r1").replace('"draft"', '"reviewed"'),
    "a new reference, cited": cause("n1").replace("andersohn2007", "mine2026") + REFERENCE,
    "a new reference, cited by nothing": REFERENCE,
    "not UTF-8": cause("n1") + "# \xff\n",
    "a BOM": "\ufeff" + cause("n1"),
    "a [settings] line in a string, settings as a dotted key": 'settings.default_region = "UK"\n'
    + SETTINGS_IN_STRING,
    "a [settings] line in a string, settings quoted": '["settings"]\ndefault_region = "UK"\n'
    + SETTINGS_IN_STRING,
    "an integer of 5000 digits": cause("n1", source="9" * 5000),
    "a lower-limit bracket holding a string": '[[reference_ranges]]\nid = "rr1"\nname = "x"\n'
    'measure = "anc"\npopulation = "general"\nlower_limit_min = "a"\nlower_limit_max = 1\n'
    'references = ["manroe1979"]\n',
}


@pytest.mark.parametrize("name", list(CASES))
def test_tricky_overlays_agree(name):
    data = CASES[name]
    raw = data.encode("latin-1") if name == "not UTF-8" else data.encode()
    agree(raw)


@pytest.mark.parametrize(
    "name",
    ["one new cause", "two new causes", "a bundled cause replaced", "CRLF line ends",
     "settings and a cause", "header with a comment", "a review record", "its own source key",
     "line separators inside a string", "a new reference, cited"],
)  # fmt: skip
def test_ordinary_overlays_take_the_piecewise_path(name):
    assert agree(CASES[name].encode()) is not None


FRAGMENTS = [*CASES.values(), "# comment\n", "\n", '"""\n', "[[causes]]\n", "x = [\n", "]\n"]


# 20 spliced overlays: each fragment is also checked whole in the CASES table above
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), max_size=5),
    cut=st.integers(min_value=0, max_value=4000),
    junk=st.sampled_from(["", '"', "'''", "[", "]", "\n", "=", "#", "\r", "\u2028"]),
)
def test_generated_overlays_agree(parts, cut, junk):
    text = "".join(parts)
    cut = min(cut, len(text))
    agree((text[:cut] + junk + text[cut:]).encode("utf-8", "replace"))


def test_a_damaged_memo_is_recomputed_not_trusted(isolated_dirs, monkeypatch):
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(isolated_dirs / "cache"))
    overlay = (cause("d1") + cause("d2")).encode()
    assert agree(overlay) is not None
    (memo,) = (isolated_dirs / "cache").glob("memo-*.sqlite")
    with sqlite3.connect(memo) as conn:  # a changed record keeps its old crc
        conn.execute("UPDATE pieces SET entry = replace(entry, 'Synthetic', 'Tampered')")
    assert agree(overlay) is not None
    memo.write_bytes(b"not a database at all")
    assert agree(overlay) is not None


def test_the_memo_is_pruned_to_the_current_pieces(isolated_dirs, monkeypatch):
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(isolated_dirs / "cache"))
    monkeypatch.setattr(chunks, "MAX_EXTRA_ROWS", 3)
    for n in range(6):  # each edit leaves one stale record behind
        assert real_build((cause("n1") + f"# edit {n}\n").encode()) is not None
    (memo,) = (isolated_dirs / "cache").glob("memo-*.sqlite")
    with sqlite3.connect(memo) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM pieces").fetchone()
    current = len(chunks.split(BUNDLED)[1]) + 1
    assert current <= rows <= current + 3


def test_a_symlink_where_the_memo_goes_is_neither_read_nor_written(isolated_dirs, monkeypatch):
    cache = isolated_dirs / "cache"
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(cache))
    cache.mkdir()
    target = isolated_dirs / "elsewhere.sqlite"
    (cache / f"memo-{chunks._memo_key()}.sqlite").symlink_to(target)
    agree(cause("n1").encode())
    assert not target.exists()


def test_provenance_fields_hold_text_only(tmp_path):
    overlay = cause("p1", source="1").encode()
    assert whole(overlay) is None
    assert real_build(overlay) is None
    # nested 3,000 deep: once a RecursionError in both paths (in a subprocess: the test
    # harness's own deepcopy of a parse would overflow first)
    deep = tmp_path / "deep.toml"
    deep.write_text(cause("p1") + "\n[[causes.review]]\nsource" + ".a" * 3000 + " = 1\n")
    env = {**os.environ, "LEUKO_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "leuko_cli", "kb", "check", str(deep)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert "review[1].source: expected text" in done.stdout + done.stderr
    assert "internal error" not in done.stderr


def test_no_cache_dir_means_the_whole_file_path(monkeypatch):
    monkeypatch.setenv("LEUKO_NO_CACHE", "1")
    assert real_build(cause("n1").encode()) is None


BREAKAGES = {
    "drug fields partly given": lambda c: c.update(drugs=["x"]),
    "reviewed without a record": lambda c: c.update(review_status="reviewed", review=None),
    "a review after last_updated": lambda c: c.update(
        review=[{"date": "2999-01-01", "reviewer": "x", "checked": ["y"], "corrections": []}]
    ),
    "an unknown category": lambda c: c.update(category="nope"),
    "a dangling reference": lambda c: c.update(references=["nope"]),
    "nothing": lambda c: None,
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_causes_cut_to_checked_fields_are_checked_alike(kb, name):
    """check_references reads only checked_fields('causes') of a cause (chunks.py relies on it)."""
    data = copy.deepcopy(kb.data)
    BREAKAGES[name](data["causes"][3])
    fields = validation.checked_fields("causes")
    cut = {**data, "causes": [{k: v for k, v in c.items() if k in fields} for c in data["causes"]]}

    def problems(d: dict) -> list[str]:
        try:
            validation.check_references(d)
        except KBError as err:
            return err.problems
        return []

    assert problems(cut) == problems(data)
    assert bool(problems(data)) == (name != "nothing")


def test_nesting_near_the_recursion_limit_is_left_to_the_whole_file_path():
    """tomllib recurses per level of nesting (a provenance key holds any value), so how deep a
    file may nest depends on how deep the stack already is: the piecewise path parses from
    fewer frames than load.build and must not accept a file that load.build finds too deep."""

    def nested(depth: int) -> bytes:
        return cause("deep", source="[" * depth + "]" * depth).encode()

    def below(frames: int, func):  # as if called from `frames` frames further down
        return func() if frames == 0 else below(frames - 1, func)

    limit = next(d for d in range(300, 1000, 4) if whole(nested(d)) is None)
    for frames in (0, 3, 7):
        for depth in range(limit - 12, limit + 1, 3):
            below(frames, lambda: agree(nested(depth)))  # noqa: B023 - called at once


@pytest.mark.parametrize("where", ["preamble", "piece"])
def test_an_integer_tomllib_cannot_convert_steps_aside(where):
    """Python limits int() to 4300 digits: tomllib then raises ValueError, not TOMLDecodeError."""
    huge = "1" * 5000
    text = f"x = {huge}\n" + cause("n1") if where == "preamble" else cause("n1", source=huge)
    assert real_build(text.encode()) is None


def test_the_memo_is_read_from_a_cache_dir_whose_path_holds_uri_characters(tmp_path, monkeypatch):
    """The memo is opened read-only by URI: '#', '?' and '%' in the path must be escaped, or
    it is never read back (and SQLite opens, even creates, the file the URI names instead)."""
    parent = tmp_path / "a#b?c%41d"
    parent.mkdir()
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(parent / "cache"))
    overlay = cause("n1").encode()
    assert real_build(overlay) is not None
    assert chunks.Memo().records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a#b?c%41d"]


def test_a_directory_where_the_memo_should_be_means_the_whole_file_path(isolated_dirs, monkeypatch):
    """The memo can never be written there, and a cold memo costs more than a whole parse."""
    cache = isolated_dirs / "cache"
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(cache))
    (cache / f"memo-{chunks._memo_key()}.sqlite").mkdir(parents=True)
    assert real_build(cause("n1").encode()) is None


def test_an_overlay_path_that_is_not_utf8_steps_aside():
    """A file name with bytes that are not UTF-8 decodes to lone surrogates (os.fsdecode): the
    causes' source_location cannot then be encoded, so their bodies cannot be built here."""
    name = "/tmp/d\udcff/overlay.toml"
    assert chunks.build.real(BUNDLED, "causes.toml", cause("n1").encode(), name) is None


def test_a_store_that_cannot_encode_the_kb_is_not_written(isolated_dirs):
    data = kbload.build(BUNDLED, "causes.toml", cause("n1").encode(), "/tmp/d\udcff/o.toml")
    kbload._save("0" * 64, data)  # the run goes on uncached
    assert not list((isolated_dirs / "cache").glob("kb-*"))
