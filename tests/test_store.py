"""The SQLite store (kb/store.py): damage of any kind never changes an answer, stale and
unwritable stores are harmless, several KB states coexist, no temp file is left behind."""

from __future__ import annotations

import json
import os
import sqlite3
import sys

import pytest

from leuko_cli import kb as kbmod
from leuko_cli.kb import store

kbload = sys.modules["leuko_cli.kb.load"]

QUERIES = [
    ("assess", "--anc", "800", "--json"),
    ("causes", "show", "clozapine", "--json"),
    ("causes", "--json"),
    ("causes", "--search", "b12", "--json"),
    ("search", "febrile", "neutropenia", "--json"),
    ("search", "clozapine", "--json"),
]


@pytest.fixture(autouse=True)
def _real_store_writes(monkeypatch):
    """These tests break and read the store a build writes: the real writer, not the copy of
    one that conftest hands other tests."""
    monkeypatch.setattr(store, "_fill", getattr(store._fill, "real", store._fill))


def _stores(tmp_path):
    return sorted((tmp_path / "cache").glob("kb-*.sqlite"))


def _answers(invoke):
    return [invoke(*q).stdout for q in QUERIES]


_UNCACHED: list[list[str]] = []


@pytest.fixture
def expected(invoke, monkeypatch):
    """The answers of an uncached load (computed once: they depend on nothing per test)."""
    if not _UNCACHED:
        monkeypatch.setenv("LEUKO_NO_CACHE", "1")
        _UNCACHED.append(_answers(invoke))
        monkeypatch.delenv("LEUKO_NO_CACHE")
    return _UNCACHED[0]


def _offset_in_table(path, table: str, needle: bytes | None = None) -> int:
    """A byte offset inside one of `table`'s pages (inside `needle` when given)."""
    conn = sqlite3.connect(path)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            p
            for (p,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (table,)
            )
        ]
    except sqlite3.OperationalError:  # no dbstat in this build: search the raw bytes instead
        pages = []
    finally:
        conn.close()
    raw = path.read_bytes()
    if needle is not None:
        return raw.index(needle) + len(needle) // 2
    if not pages:
        pytest.skip("sqlite built without dbstat")
    return (pages[len(pages) // 2] - 1) * page_size + page_size // 2


def _flip(path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x10
    path.write_bytes(bytes(raw))


DAMAGE = {
    "garbage": lambda p: p.write_bytes(b"\x00garbage{{{" * 100),
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "header": lambda p: _flip(p, 20),
    "fts-page": lambda p: _flip(p, _offset_in_table(p, "search_data")),
    "docs-page": lambda p: _flip(p, _offset_in_table(p, "docs")),
    "cause-row": lambda p: _flip(p, _offset_in_table(p, "causes", b'{"id":"clozapine"')),
    "index-blob": lambda p: _flip(p, _offset_in_table(p, "blobs", b"vitamin b12")),
    "tables-blob": lambda p: _flip(p, _offset_in_table(p, "blobs", b'"disclaimer"')),
    # the references have a blob of their own (read on first use); only it holds this key
    "references-blob": lambda p: _flip(p, _offset_in_table(p, "blobs", b'"verification":"')),
    "wrong-schema": lambda p: _replace_schema(p),
}


def _replace_schema(path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE blobs(name, crc, body)")
    conn.execute("INSERT INTO blobs VALUES ('tables', 1, x'00')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_store_gives_the_uncached_answers(isolated_dirs, invoke, expected, damage):
    assert _answers(invoke) == expected  # builds the store
    (path,) = _stores(isolated_dirs)
    DAMAGE[damage](path)
    assert _answers(invoke) == expected
    assert kbmod.load()._store is not None  # rebuilt and readable again


def test_flip_at_many_offsets_never_changes_an_answer(tmp_path, kb, monkeypatch):
    """Every 4 KiB page of a store, one byte flipped in each: each answer is the uncached one,
    or the store reports itself damaged (and the caller rebuilds)."""
    data = dict(kb.data, causes=kb.table("causes")[:12])
    direct = kbmod.KnowledgeBase(data)
    want = [_store_answers(direct)]
    key = "f" * 64
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(tmp_path / "flip"))
    kbload._save(key, data)
    path = store.store_file(key)
    clean = open(path, "rb").read()
    checked = 0
    for at in range(0, len(clean), 4093):  # a prime under 4096: one flip in every page
        raw = bytearray(clean)
        raw[at] ^= 0x04
        with open(path, "wb") as fh:
            fh.write(bytes(raw))
        opened = store.open_store(key)
        if opened is None:
            continue
        got = kbmod.KnowledgeBase(opened.data, store=opened, rebuild=lambda: data)
        assert [_store_answers(got)] == want, f"flip at {at}"
        checked += 1
    assert checked > 10


def _store_answers(k) -> tuple:
    return (
        k.settings,
        [c["id"] for c in k.match_causes(needle="drug")],
        k.get("causes", "clozapine"),
        [(r["kind"], r["id"], r["score"]) for r in k.search("neutropenia drug", limit=50)],
        k.data["causes"],
    )


def test_store_deleted_mid_query_still_answers(isolated_dirs, invoke, expected):
    _answers(invoke)
    loaded = kbmod.load()
    for path in _stores(isolated_dirs):
        path.unlink()
    assert [c["id"] for c in loaded.match_causes(needle="b12")]
    assert loaded.search("clozapine")[0]["id"]
    assert _answers(invoke) == expected


def test_stale_key_is_never_used(isolated_dirs, monkeypatch):
    kbmod.load()
    (old,) = _stores(isolated_dirs)
    monkeypatch.setattr(store, "FORMAT", store.FORMAT + 1)  # as a new leuko version would
    built = kbmod.load()  # a different key: built from the TOML, answered from its new store
    assert len(_stores(isolated_dirs)) == 2
    assert built._store is not None and built._store.path != str(old)
    assert kbmod.load()._store.path == built._store.path


def test_store_with_another_key_inside_is_refused(isolated_dirs):
    kbmod.load()
    (path,) = _stores(isolated_dirs)
    other = path.with_name("kb-" + "0" * 32 + ".sqlite")
    path.rename(other)
    other.rename(path)  # same file back: opens
    assert kbmod.load()._store is not None
    assert store.open_store("0" * 64) is None


def test_read_only_cache_dir_runs_uncached(isolated_dirs, invoke, expected):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    cache = isolated_dirs / "cache"
    cache.mkdir(parents=True)
    cache.chmod(0o500)
    try:
        assert _answers(invoke) == expected
        assert not _stores(isolated_dirs)
    finally:
        cache.chmod(0o700)


def test_unwritable_cache_runs_uncached(isolated_dirs, invoke, expected, monkeypatch):
    (isolated_dirs / "cache").write_text("a file where the cache dir should be")
    assert _answers(invoke) == expected


def test_several_states_coexist_and_old_ones_are_pruned(isolated_dirs, monkeypatch):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    kbmod.load()
    for n in range(store.KEEP + 2):
        overlay.write_text(f"# state {n}\n")
        kbmod.load()
        assert len(_stores(isolated_dirs)) == min(n + 2, store.KEEP)
    overlay.write_text("# state 1\n")
    assert kbmod.load()._store is not None or len(_stores(isolated_dirs)) == store.KEEP


def test_two_states_in_turn_are_both_cached(isolated_dirs):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("# A\n")
    kbmod.load()
    overlay.write_text("# B\n")
    kbmod.load()
    overlay.write_text("# A\n")
    assert kbmod.load()._store is not None


def test_no_temp_file_left_after_failure_or_interrupt(isolated_dirs, kb, monkeypatch):
    real = store._fill

    def interrupted(*args):
        real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_fill", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kbmod.load()
    monkeypatch.setattr(store, "_fill", lambda *a: (_ for _ in ()).throw(sqlite3.OperationalError))
    kbmod.load()  # a failed write: the run goes on uncached

    def left() -> list:  # the bundled KB's remembered hash and the entry memo are no temp files
        return sorted(
            p.suffix
            for p in (isolated_dirs / "cache").iterdir()
            if p.name != kbload.BUNDLED_MEMO and not p.name.startswith("memo-")
        )

    assert left() == []
    monkeypatch.setattr(store, "_fill", real)
    kbmod.load()
    assert left() == [".sqlite"]


def test_old_temp_files_are_swept(isolated_dirs):
    cache = isolated_dirs / "cache"
    cache.mkdir(parents=True)
    old = cache / "kb-x.sqlite.1.ab.tmp"
    young = cache / "kb-y.sqlite.2.cd.tmp"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    os.utime(old, (0, 0))
    kbmod.load()
    assert not old.exists() and young.exists()  # young: another process may be writing it


def test_only_returned_causes_are_decoded_and_only_tables_read_on_load(isolated_dirs):
    kbmod.load()
    cached = kbmod.load()
    assert cached._index_text is None  # a load reads the tables blob only
    cached.settings, cached.table("scales")
    assert cached._index_text is None
    cached.search("b12")
    assert 0 < sum(c is not None for c in cached._causes) <= 10


def test_cached_settings_origin_equals_uncached(isolated_dirs):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text('# local\n[settings]\nctcae_default_version = "5.0"\n')
    direct = kbmod.load(use_cache=False)
    kbmod.load()
    cached = kbmod.load()
    assert cached._store is not None
    assert cached.settings_origin == direct.settings_origin
    assert direct.settings_origin["ctcae_default_version"] == f"overlay {overlay}:3"
    assert direct.settings_origin["disclaimer"] == "bundled"
    assert json.dumps(cached.settings) == json.dumps(direct.settings)
