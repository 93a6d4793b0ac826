"""Deterministic output and isolated user dirs for every test (never the real home)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# No per-example deadline: on a loaded 2-core machine a slow example is not a failure (the
# properties are about answers, not speed; timing lives in benchmarks/).
settings.register_profile("leuko", deadline=None)
settings.load_profile("leuko")

# Fixed width, no colour: Rich output is the same on every machine and in CI.
os.environ["COLUMNS"] = "100"
os.environ["NO_COLOR"] = "1"
os.environ.pop("FORCE_COLOR", None)
for key in ("LEUKO_UNIT", "LEUKO_CTCAE_VERSION", "LEUKO_REGION", "LEUKO_AUDIENCE"):
    os.environ.pop(key, None)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Each test gets its own config, data and cache dirs."""
    for kind in ("CONFIG", "DATA", "CACHE"):
        d = tmp_path / kind.lower()
        monkeypatch.setenv(f"LEUKO_{kind}_DIR", str(d))
    monkeypatch.delenv("LEUKO_NO_CACHE", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def _bundled_kb():
    from leuko_cli import kb as kbmod

    return kbmod.load(overlay=False, use_cache=False)


@pytest.fixture
def kb(_bundled_kb):
    """The bundled KB, parsed once per worker (tests read it; none may change it: a
    KnowledgeBase is read-only by design)."""
    return _bundled_kb


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture(autouse=True, scope="session")
def _build_the_click_command_once():
    """Typer's CliRunner turns the app into its Click group anew on every invoke (~7 ms: every
    command's signature and type hints read again). The group is the same each time (the app
    is not changed after import) and Click keeps no state in it between runs (each run has its
    own Context): build it once per worker. tests/test_startup.py and test_layout.py build
    their own with typer.main.get_command, which this leaves alone."""
    import typer.testing

    real = typer.testing._get_command
    built: dict = {}

    def get_command(app):
        if id(app) not in built:
            built[id(app)] = (app, real(app))  # the app is kept alive, so its id stays its own
        return built[id(app)][1]

    typer.testing._get_command = get_command
    yield
    typer.testing._get_command = real


@pytest.fixture
def invoke(runner):
    """Run the CLI in-process; returns the Result (stdout and stderr separate)."""
    from leuko_cli.cli import app

    def run(*args: str, **kw):
        return runner.invoke(app, list(args), prog_name="leuko", **kw)

    return run


@pytest.fixture(autouse=True, scope="session")
def _parse_each_kb_once(tmp_path_factory):
    """Parsing and validating the TOML is most of a store build (~100 ms), and every test has
    a fresh cache dir: remember `build`'s result per exact input bytes (a pure function), and
    hand each caller its own copy. Failures are not remembered: they raise every time.
    Likewise the store a build writes (its SQLite pages, search index included: most of the
    rest of a first run), by state key. tests/test_store.py breaks and times the real one."""
    import pickle
    import sqlite3
    import sys

    # a value is remembered pickled, and each caller gets pickle.loads of it: a deep copy
    # (shared parts stay shared), several times deepcopy's speed, and half a dumps-and-loads
    def pickled(value) -> bytes:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    copy_of = pickle.loads

    import importlib

    import leuko_cli.kb  # noqa: F401 - loads the submodule

    module = sys.modules["leuko_cli.kb.load"]
    real = module.build
    seen: dict = {}

    def build(bundled_bytes, bundled_name, overlay_bytes, overlay_name):
        key = (bundled_bytes, bundled_name, overlay_bytes, overlay_name)
        if key not in seen:
            seen[key] = pickled(real(bundled_bytes, bundled_name, overlay_bytes, overlay_name))
        return copy_of(seen[key])

    # a junk overlay fails to build, so the bundled file would be parsed again for each one
    real_parse = module.parse_toml
    parsed: dict = {}

    def parse_toml(data, path):
        if (data, path) not in parsed:
            parsed[(data, path)] = pickled(real_parse(data, path))
        handed[:] = [copy_of(parsed[(data, path)]), (data, path)]
        return handed[0]

    # ... and validated again (~35 ms for the bundled file): build() validates the document
    # parse_toml has just handed it, so a document known by its bytes is validated once
    # (validate is a pure function of the document; failures are not remembered)
    validation = importlib.import_module("leuko_cli.kb.validation")
    real_validate = validation.validate
    handed: list = [None, None]  # the last document parse_toml handed out, and its key
    valid: dict = {}

    def validate(raw, *, require_core=True, label="knowledge base"):
        if handed[0] is not raw:  # any other document: validated as it is
            return real_validate(raw, require_core=require_core, label=label)
        key = (*handed[1], require_core, label)
        if key not in valid:
            valid[key] = pickled(real_validate(raw, require_core=require_core, label=label))
        return copy_of(valid[key])

    # the piecewise build (kb/chunks.py) likewise: a cold memo costs more than a whole parse.
    # tests/test_chunks.py uses the real one, with the real memo in its own dirs.
    chunks = importlib.import_module("leuko_cli.kb.chunks")  # load.py imports it lazily
    real_chunks = chunks.build
    built: dict = {}
    # its memo is content-addressed (a piece's record is keyed by the piece's bytes), so one
    # memo for the worker is one user's warm memo: a new overlay's first load in a test then
    # computes its own pieces only, not the bundled KB's hundreds again (~0.2 s). Used only
    # where the test's own cache would take the piecewise path too (not with no cache, or a
    # read-only one: there chunks.build steps aside, as it does for the user)
    shared_memo = str(tmp_path_factory.mktemp("chunk-memo"))

    def real_chunks_warm(*key):
        if not chunks.Memo().usable:
            return real_chunks(*key)
        own = os.environ.get("LEUKO_CACHE_DIR")
        os.environ["LEUKO_CACHE_DIR"] = shared_memo
        try:
            return real_chunks(*key)
        finally:
            if own is None:
                del os.environ["LEUKO_CACHE_DIR"]
            else:
                os.environ["LEUKO_CACHE_DIR"] = own

    def chunks_build(bundled_bytes, bundled_name, overlay_bytes, overlay_name):
        key = (bundled_bytes, bundled_name, overlay_bytes, overlay_name)
        if key not in built:
            found = real_chunks_warm(*key)
            if found is None:  # stepped aside here (e.g. no writable cache): not remembered
                return None
            built[key] = (found, pickled(found.merged))
        found, merged = built[key]
        return chunks.Built(copy_of(merged), found.bodies, found.index_text, found.row_of)

    chunks_build.real = real_chunks

    # the same state key is the same bundled KB, overlay, version and store format: the same
    # store (with or without FTS5, which a test may turn off)
    store = importlib.import_module("leuko_cli.kb.store")
    real_fill = store._fill
    pages: dict = {}

    def fill(conn, state_key, *args):
        key = (state_key, store.fts5_available())
        if key in pages:
            pages[key].backup(conn)
            return
        real_fill(conn, state_key, *args)
        conn.commit()
        pages[key] = sqlite3.connect(":memory:", check_same_thread=False)
        conn.backup(pages[key])

    fill.real = real_fill
    module.build, module.parse_toml, chunks.build = build, parse_toml, chunks_build
    store._fill, validation.validate = fill, validate
    yield
    module.build, module.parse_toml, chunks.build = real, real_parse, real_chunks
    store._fill, validation.validate = real_fill, real_validate
