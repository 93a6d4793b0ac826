"""Start-up guards (issue 7): what the hot paths import, fast path == Typer path, the KB cache.

Timing lives in benchmarks/startup.py; these tests only check behaviour that can fail.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leuko_cli import fastpath
from leuko_cli import kb as kbmod

kbload = sys.modules["leuko_cli.kb.load"]  # `kbmod.load` is the function of that name

SRC = Path(__file__).resolve().parents[1] / "src" / "leuko_cli"

PROBE = """
import sys
sys.argv = ["leuko", *{argv!r}]
from leuko_cli.entry import main
try:
    main()
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {roots!r})
sys.stderr.write("\\nMODULES " + " ".join(loaded) + "\\n")
"""


UI = ("rich", "typer", "pydantic")
# stdlib modules the cached start-up path does without (about 10 ms together; see paths.py)
HEAVY_STDLIB = ("pathlib", "typing", "datetime", "dataclasses", "hashlib", "tomllib")


def _modules_after(argv: list[str], tmp_path, roots=UI) -> tuple[set[str], str]:
    env = dict(
        os.environ,
        LEUKO_CACHE_DIR=str(tmp_path / "cache"),
        LEUKO_CONFIG_DIR=str(tmp_path / "cfg"),
        LEUKO_DATA_DIR=str(tmp_path / "data"),
    )
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, roots=roots)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = r.stderr.rsplit("MODULES", 1)[1]
    return set(line.split()), r.stdout


FAST_JSON = [
    ["assess", "--anc", "450", "--json"],
    ["assess", "--wbc", "3.1", "--neutrophils", "20", "--unit", "G/L", "--json"],
    ["causes", "--category", "drugs", "--json"],
    ["causes", "show", "clozapine", "--json"],
    ["refs", "--json"],
]


@pytest.mark.parametrize("argv", FAST_JSON)
def test_fast_json_path_imports_neither_rich_nor_typer(argv, tmp_path):
    mods, out = _modules_after(argv, tmp_path)
    json.loads(out)
    assert not {m for m in mods if m.startswith(("rich", "typer", "pydantic"))}, mods


def test_a_config_file_does_not_bring_tomllib_back(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.toml").write_text('# written by hand\nunit = "10^9/L"\n')
    argv = ["assess", "--anc", "0.45", "--json"]
    _modules_after(argv, tmp_path)
    mods, out = _modules_after(argv, tmp_path, roots=HEAVY_STDLIB)
    assert json.loads(out)["ctcae_grade"] == 3
    assert not mods, f"the cached JSON path imported {sorted(mods)}"


@pytest.mark.parametrize("argv", FAST_JSON)
def test_warm_json_path_skips_heavy_stdlib_modules(argv, tmp_path):
    _modules_after(argv, tmp_path)  # the first run builds the KB cache (that may import them)
    mods, out = _modules_after(argv, tmp_path, roots=HEAVY_STDLIB)
    json.loads(out)
    assert not mods, f"the cached JSON path imported {sorted(mods)}"


@pytest.mark.parametrize(
    "argv",
    [
        ["classify", "--json"],
        ["workup", "--json"],
        ["kb", "info", "--json"],
        ["scales", "--json"],
        ["mascc", "--no-copd", "--json"],
    ],
)
def test_typer_json_path_imports_no_rich(argv, tmp_path):
    mods, out = _modules_after(argv, tmp_path)
    json.loads(out)
    assert "typer" in mods  # these go through the full CLI
    assert not {m for m in mods if m == "rich" or m.startswith("rich.")}, mods


def test_human_output_does_load_rich(tmp_path):
    mods, out = _modules_after(["assess", "--anc", "450"], tmp_path)
    assert "rich" in mods and "typer" not in mods and "Grade 3" in out


# --- the fast path gives exactly what the Typer CLI gives -----------------------------------

SAME = [
    ["assess", "--anc", "450"],
    ["assess", "--anc", "450", "--json"],
    ["assess", "--anc", "0.8", "--unit", "10^9/L", "--ctcae-version", "5.0", "--json"],
    ["assess", "--wbc", "5200", "--neutrophils", "15", "--bands", "4"],
    ["assess", "--anc", "300", "--temp", "38.6", "--audience", "patient"],
    ["assess", "--anc", "1200", "--drug", "clozapine", "--duffy-null", "--age", "40"],
    ["assess", "--lymphocytes", "450", "--wbc", "2100", "--json"],
    ["assess", "--anc", "-4"],
    ["assess", "--anc", "nan", "--json"],
    ["assess"],
    ["assess", "--wbc", "3.2"],
    ["assess", "--anc", "450", "--unit", "parsecs"],
    ["causes"],
    ["causes", "--category", "drugs"],
    ["causes", "-c", "infections", "--json"],
    ["causes", "--search", "b12"],
    ["causes", "--category", "astrology"],
    ["causes", "--lineage", "lymphocytes", "--json"],
    ["causes", "--lineage", "platelets"],
    ["causes", "show", "clozapine"],
    ["causes", "show", "clozapine", "--audience", "patient"],
    ["causes", "show", "nope-nope"],
    ["refs"],
    ["refs", "--json"],
    ["refs", "--cause", "clozapine"],
]


@pytest.mark.parametrize("argv", SAME, ids=" ".join)
def test_fast_path_matches_typer_cli(argv, invoke, capsys):
    code = fastpath.run(argv)
    assert code is not None, "the fast path should handle this form"
    fast = capsys.readouterr()
    typer_result = invoke(*argv)
    assert code == typer_result.exit_code
    assert fast.out == typer_result.stdout
    assert fast.err == typer_result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["assess", "--help"],
        ["assess", "--anc=450"],
        ["assess", "--anc", "4", "--anc", "5"],
        ["assess", "--anc"],
        ["assess", "--audience", "robot", "--anc", "4"],
        ["classify"],
        ["causes", "show"],
        ["causes", "show", "a", "b"],
        ["refs", "--format", "bibtex"],
        [],
    ],
)
def test_fast_path_declines_what_it_does_not_know(argv, capsys):
    assert fastpath.run(argv) is None
    assert capsys.readouterr().out == ""


def test_fast_path_options_exist_on_typer_commands():
    import typer.main

    from leuko_cli.cli import app

    root = typer.main.get_command(app)

    def opts(*path):
        cmd = root
        for name in path:
            cmd = cmd.commands[name] if hasattr(cmd, "commands") else cmd
        return {o for p in cmd.params for o in getattr(p, "opts", [])}

    assert set(fastpath.ASSESS) <= opts("assess")
    assert set(fastpath.CAUSES) <= opts("causes")
    assert set(fastpath.CAUSE_SHOW) <= opts("causes", "show")
    assert set(fastpath.REFS) <= opts("refs")


# --- cache (the store's damage tests live in tests/test_store.py) ---------------------------


def _cache_files(tmp_path):
    return list((tmp_path / "cache").glob("kb-*.sqlite"))


def test_cache_is_written_and_used(isolated_dirs):
    fresh = kbmod.load(use_cache=False).data
    kbmod.load()
    assert len(_cache_files(isolated_dirs)) == 1
    cached = kbmod.load()
    assert cached._store is not None, "second load should come from the cache"
    assert cached._store.count == len(fresh["causes"])
    assert cached.data == fresh


def test_cache_from_an_older_format_is_replaced(isolated_dirs, invoke):
    cache = isolated_dirs / "cache"
    cache.mkdir(parents=True)
    old = cache / "kb-0123456789abcdef0123456789abcdef.json"
    old.write_text('{"key": "x", "kb": {}}')
    older = cache / "kb-0123456789abcdef0123456789abcdef.cache"
    older.write_text('{"format": 4}')
    assert invoke("assess", "--anc", "800", "--json").exit_code == 0
    assert not old.exists() and not older.exists() and len(_cache_files(isolated_dirs)) == 1


def test_stale_cache_is_not_used_after_the_overlay_changes(isolated_dirs, invoke):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True, exist_ok=True)
    assert invoke("causes", "--search", "zz-local-formulary-drug", "--json").stdout.strip() == "[]"
    overlay.write_text(_local_cause("zz-local-formulary-drug"))
    rows = json.loads(invoke("causes", "--search", "zz-local-formulary-drug", "--json").stdout)
    assert [r["id"] for r in rows] == ["zz-local-formulary-drug"]


# --- overlay hash memo ------------------------------------------------------------------------


def _overlay_with(isolated_dirs, ident: str):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True, exist_ok=True)
    overlay.write_text(_local_cause(ident))
    return overlay


def _ids(kb, needle):
    return [c["id"] for c in kb.match_causes(needle=kbmod.fold(needle))]


@pytest.mark.skipif(os.name != "posix", reason="the hash is remembered on POSIX only")
def test_remembered_overlay_hash_skips_reading_the_overlay(isolated_dirs, monkeypatch):
    monkeypatch.setattr(kbload, "RACY_SECONDS", 0)
    overlay = _overlay_with(isolated_dirs, "zz-memo-drug")
    kbmod.load()  # hashes, remembers, builds the cache
    assert (isolated_dirs / "cache" / kbload.OVERLAY_MEMO).exists()
    real = kbload._read_bytes

    def refuse_overlay(path):
        assert str(path) != str(overlay), "the overlay was read although it had not changed"
        return real(path)

    monkeypatch.setattr(kbload, "_read_bytes", refuse_overlay)
    assert _ids(kbmod.load(), "zz-memo-drug") == ["zz-memo-drug"]


def test_same_size_edit_with_mtime_put_back_is_still_seen(isolated_dirs, monkeypatch):
    monkeypatch.setattr(kbload, "RACY_SECONDS", 0)
    overlay = _overlay_with(isolated_dirs, "zz-memo-aaaa")
    kbmod.load()
    before = overlay.stat()
    overlay.write_text(_local_cause("zz-memo-bbbb"))  # same length
    os.utime(overlay, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = overlay.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert _ids(kbmod.load(), "zz-memo-bbbb") == ["zz-memo-bbbb"]  # ctime moved on


def test_a_just_written_overlay_is_not_remembered(isolated_dirs):
    _overlay_with(isolated_dirs, "zz-memo-fresh")
    kbmod.load()
    assert not (isolated_dirs / "cache" / kbload.OVERLAY_MEMO).exists()  # racy window


@pytest.mark.parametrize("junk", [b"", b"{", b"[]", b'{"signature": 1, "blake2b": 2}'])
def test_damaged_memo_is_ignored(isolated_dirs, monkeypatch, junk):
    monkeypatch.setattr(kbload, "RACY_SECONDS", 0)
    overlay = _overlay_with(isolated_dirs, "zz-memo-junk")
    kbmod.load()
    (isolated_dirs / "cache" / kbload.OVERLAY_MEMO).write_bytes(junk)
    overlay.write_text(_local_cause("zz-memo-knuj"))
    assert _ids(kbmod.load(), "zz-memo-knuj") == ["zz-memo-knuj"]


def test_read_only_cache_dir_is_harmless(isolated_dirs, invoke):
    cache = isolated_dirs / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o500)
    try:
        r = invoke("assess", "--anc", "450", "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["ctcae_grade"] == 3
    finally:
        cache.chmod(0o700)


def test_cache_can_be_disabled(isolated_dirs, monkeypatch):
    monkeypatch.setenv("LEUKO_NO_CACHE", "1")
    kbmod.load()
    assert not _cache_files(isolated_dirs)


def _local_cause(ident: str) -> str:
    return f'''
[[causes]]
id = "{ident}"
name = "Local formulary drug"
category = "drugs"
synonyms = []
lineages = ["neutrophils"]
summary = "A local entry."
patient_summary = "A local entry."
mechanism = "reduced-production"
mechanism_detail = "Local."
course = "transient"
origin = "extrinsic"
features = ["local"]
workup = ["local"]
management = ["local"]
references = ["andersohn2007"]
last_reviewed = 2026-11-22
review_status = "draft"
'''


# --- lint guard (also enforced by ruff's banned-module-level-imports) ------------------------


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Try):
            for sub in node.body:
                if isinstance(sub, ast.ImportFrom) and sub.module:
                    names.add(sub.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_level_rich_or_typer_outside_their_modules(path):
    names = _module_level_imports(path)
    if path.name not in ("render.py", "render_assess.py", "render_batch.py", "render_console.py"):
        assert "rich" not in names, f"{path.name} imports rich at module level"
    if not path.name.startswith("cli"):  # cli.py and the cli_*.py command modules
        assert "typer" not in names, f"{path.name} imports typer at module level"


@pytest.mark.parametrize("xdg", [None, "", "   ", "/tmp/xdg-somewhere"])
@pytest.mark.parametrize("kind", ["cache", "config", "data"])
def test_linux_dirs_match_platformdirs(monkeypatch, kind, xdg):
    import platformdirs

    from leuko_cli import paths

    var = paths._XDG[kind][0]
    if xdg is None:
        monkeypatch.delenv(var, raising=False)
    else:
        monkeypatch.setenv(var, xdg)
    expected = getattr(platformdirs, f"user_{kind}_dir")("leuko", appauthor=False)
    assert str(paths._platform(kind)) == expected
