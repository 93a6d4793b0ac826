"""`leuko config`: set/get/unset/show, precedence, validation, atomic writes, broken files.

Every test runs against the temporary LEUKO_CONFIG_DIR/DATA_DIR/CACHE_DIR from conftest.py.
"""

from __future__ import annotations

import json
import os

import pytest
from helpers import one_line_error
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leuko_cli import config, paths
from leuko_cli import settings as leuko_settings
from leuko_cli.fields import SETTINGS_KEYS


def cfg_path():
    return paths.config_path()


# --- path, show, get ------------------------------------------------------------------------


def test_path_set_and_unset_take_json(invoke):
    """--json on every command: path, set and unset were 'No such option: --json'."""
    import json

    path = json.loads(invoke("config", "path", "--json").stdout)
    assert path == {"path": str(cfg_path()), "exists": False}
    r = invoke("config", "set", "unit", "G/L", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"key": "unit", "value": "10^9/L", "file": str(cfg_path())}
    assert json.loads(invoke("config", "path", "--json").stdout)["exists"] is True
    r = invoke("config", "unset", "unit", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {
        "key": "unit",
        "removed": True,
        "value": "cells/uL",
        "origin": "default",
    }


def test_a_symlinked_config_file_is_written_through_not_replaced(invoke, tmp_path):
    """config.toml linked into a dotfiles repo: `config set` replaced the link with a regular
    file, so the repo's copy silently went stale (and the next checkout lost the change)."""
    target = tmp_path / "dotfiles" / "leuko.toml"
    target.parent.mkdir()
    target.write_text('unit = "10^9/L"\n', "utf-8")
    cfg_path().parent.mkdir(parents=True)
    cfg_path().symlink_to(target)
    assert invoke("config", "set", "audience", "patient").exit_code == 0
    assert cfg_path().is_symlink() and cfg_path().resolve() == target.resolve()
    assert config.read_file() == {"unit": "10^9/L", "audience": "patient"}
    assert invoke("config", "unset", "unit").exit_code == 0
    assert cfg_path().is_symlink() and "unit" not in target.read_text("utf-8")
    assert sorted(p.name for p in target.parent.iterdir()) == ["leuko.toml"]  # no temp left


def test_a_dangling_config_link_is_written_through_but_makes_no_directories(invoke, tmp_path):
    """A relative link to a file not made yet is written through (as `>` would); a link into a
    directory that does not exist is an error, as for `>`, not a tree of new directories."""
    cfg_path().parent.mkdir(parents=True)
    (tmp_path / "dotfiles").mkdir()
    cfg_path().symlink_to(os.path.relpath(tmp_path / "dotfiles" / "leuko.toml", cfg_path().parent))
    assert invoke("config", "set", "audience", "patient").exit_code == 0
    assert cfg_path().is_symlink() and config.read_file() == {"audience": "patient"}
    cfg_path().unlink()
    cfg_path().symlink_to(tmp_path / "no-such-dir" / "leuko.toml")
    err = one_line_error(invoke("config", "set", "audience", "patient"), 3)
    assert "cannot write the config file" in err and "old file is unchanged" in err
    assert not (tmp_path / "no-such-dir").exists() and cfg_path().is_symlink()


def test_config_path_is_in_the_test_dir(invoke, isolated_dirs):
    result = invoke("config", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(isolated_dirs / "config" / "config.toml")


def test_show_defaults_without_a_file(invoke):
    result = invoke("config", "show", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["exists"] is False
    rows = {r["key"]: r for r in out["settings"]}
    assert set(rows) == set(SETTINGS_KEYS)
    assert rows["unit"]["value"] == "cells/uL"
    assert all(r["origin"] == "default" for r in rows.values())
    assert not cfg_path().exists()  # reading never creates the file


def test_show_human_names_sources(invoke, monkeypatch):
    assert invoke("config", "set", "unit", "10^9/L").exit_code == 0
    monkeypatch.setenv("LEUKO_AUDIENCE", "patient")
    out = invoke("config", "show").stdout
    assert str(cfg_path()) in out
    lines = {ln.split("=")[0].strip(): ln for ln in out.splitlines() if "=" in ln}
    assert lines["unit"].endswith(f"# config file {cfg_path()}:2")
    assert lines["audience"].endswith("# environment LEUKO_AUDIENCE")
    assert lines["ctcae_version"].endswith("# default")


def test_get_plain_and_json(invoke):
    assert invoke("config", "get", "ctcae_version").stdout == "6.0\n"
    out = json.loads(invoke("config", "get", "audience", "--json").stdout)
    assert out == {"key": "audience", "value": "clinician", "origin": "default"}


def test_unknown_key_is_a_usage_error(invoke):
    for args in (("get", "colour"), ("set", "colour", "red"), ("unset", "colour")):
        line = one_line_error(invoke("config", *args), 2)
        assert "unknown config key 'colour'" in line and "unit" in line
    assert not cfg_path().exists()


# --- set, grade, unset ---------------------------------------------------------------------


def test_set_unit_then_grade_in_it_then_unset(invoke):
    result = invoke("config", "set", "unit", "10^9/L")
    assert result.exit_code == 0, result.stderr
    assert str(cfg_path()) in result.stdout
    assert 'unit = "10^9/L"' in cfg_path().read_text()

    out = json.loads(invoke("assess", "--anc", "0.45", "--json").stdout)
    assert out["anc"] == 450
    assert out["input_unit"] == "10^9/L"

    result = invoke("config", "unset", "unit")
    assert result.exit_code == 0
    assert "cells/uL (default)" in result.stdout
    assert "unit" not in config.read_file()
    # back in cells/uL, 0.45 is refused as implausibly low
    assert invoke("assess", "--anc", "0.45", "--json").exit_code == 2
    # unsetting again is harmless
    again = invoke("config", "unset", "unit")
    assert again.exit_code == 0 and "was not set" in again.stdout


def test_set_stores_the_canonical_unit_and_version(invoke):
    assert invoke("config", "set", "unit", "G/L").exit_code == 0
    assert invoke("config", "set", "ctcae_version", "v5").exit_code == 0
    assert invoke("config", "set", "audience", "Patient").exit_code == 0
    assert config.read_file() == {"unit": "10^9/L", "ctcae_version": "5.0", "audience": "patient"}
    out = json.loads(invoke("assess", "--anc", "0.8", "--json").stdout)
    assert out["ctcae_version"] == "5.0"
    assert out["audience"] == "patient"


def test_set_warns_when_env_overrides(invoke, monkeypatch):
    monkeypatch.setenv("LEUKO_UNIT", "cells/uL")
    result = invoke("config", "set", "unit", "10^9/L")
    assert result.exit_code == 0
    assert "LEUKO_UNIT" in result.stderr


# --- precedence ----------------------------------------------------------------------------


def test_precedence_flag_env_file_default(invoke, monkeypatch, kb):
    def unit_used(*flags):
        result = invoke("assess", "--anc", "1", *flags, "--json")
        return result.exit_code, result.stdout and json.loads(result.stdout).get("input_unit")

    def resolve(*flag):
        s = leuko_settings.resolve(kb, "unit", *flag)
        return s.value, s.origin

    assert resolve() == ("cells/uL", "default")
    invoke("config", "set", "unit", "10^9/L")
    assert resolve() == ("10^9/L", f"config file {cfg_path()}:2")
    assert unit_used() == (0, "10^9/L")
    monkeypatch.setenv("LEUKO_UNIT", "cells/uL")
    assert resolve() == ("cells/uL", "environment LEUKO_UNIT")
    assert unit_used()[0] == 2  # 1 cell/uL is implausible: the env value won over the file
    assert resolve("G/L") == ("10^9/L", "flag")
    assert unit_used("--unit", "G/L") == (0, "10^9/L")
    rows = {r["key"]: r for r in json.loads(invoke("config", "show", "--json").stdout)["settings"]}
    assert rows["unit"]["origin"] == "environment LEUKO_UNIT"


def test_bad_env_value_names_the_variable(invoke, monkeypatch):
    monkeypatch.setenv("LEUKO_UNIT", "furlongs")
    line = one_line_error(invoke("assess", "--anc", "450"), 2)
    assert "LEUKO_UNIT" in line and "furlongs" in line
    monkeypatch.setenv("LEUKO_AUDIENCE", "robots")
    line = one_line_error(invoke("manage"), 2)
    assert "LEUKO_AUDIENCE" in line


def test_bad_value_in_file_names_file_and_line(invoke):
    cfg_path().parent.mkdir(parents=True)
    cfg_path().write_text('# mine\naudience = "clinician"\nunit = "furlongs"\n')
    line = one_line_error(invoke("assess", "--anc", "450"), 3)
    assert f"{cfg_path()}:3:" in line and "furlongs" in line and "config set unit" in line
    # a well-formed file with a bad value can be repaired with set
    assert invoke("config", "set", "unit", "cells/uL").exit_code == 0
    assert invoke("assess", "--anc", "450", "--json").exit_code == 0


# --- refused and interrupted writes --------------------------------------------------------


@pytest.mark.parametrize(
    "key,value",
    [("unit", "furlongs"), ("ctcae_version", "3.0"), ("audience", "robots"), ("unit", "")],
)
def test_refused_set_leaves_file_byte_identical(invoke, key, value):
    invoke("config", "set", "audience", "patient")
    before = cfg_path().read_bytes()
    stat = cfg_path().stat()
    line = one_line_error(invoke("config", "set", key, value), 2)
    assert key.split("_")[0].lower() in line.lower() or "unit" in line
    assert cfg_path().read_bytes() == before
    assert cfg_path().stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(os.listdir(cfg_path().parent)) == ["config.toml"]  # no temp files left


def test_refused_set_without_a_file_creates_nothing(invoke):
    one_line_error(invoke("config", "set", "unit", "furlongs"), 2)
    assert not cfg_path().exists()


def test_interrupted_write_leaves_old_file_intact(invoke, monkeypatch):
    invoke("config", "set", "unit", "10^9/L")
    before = cfg_path().read_bytes()
    real = os.replace

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    line = one_line_error(invoke("config", "set", "audience", "patient"), 3)
    assert str(cfg_path()) in line and "unchanged" in line
    line = one_line_error(invoke("config", "unset", "unit"), 3)
    monkeypatch.setattr(os, "replace", real)  # not monkeypatch.undo(): that drops the test dirs
    assert cfg_path().read_bytes() == before
    assert sorted(os.listdir(cfg_path().parent)) == ["config.toml"]
    assert config.read_file() == {"unit": "10^9/L"}


def test_write_is_via_temp_file_in_same_dir(invoke, monkeypatch):
    calls = []
    real = os.replace

    def spy(src, dst):
        calls.append((os.path.dirname(src), os.path.dirname(dst)))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    assert invoke("config", "set", "unit", "10^9/L").exit_code == 0
    here = str(cfg_path().parent)
    assert [c for c in calls if c[1] == here] == [(here, here)]  # (the KB cache uses it too)


# --- broken config files -------------------------------------------------------------------

BROKEN = [
    ('unit = "10^9/L"\naudience = \n', 2, "not valid TOML"),
    ('unit = "10^9/L"\n\n[colour]\nred = 1\n', 3, "unknown config key 'colour'"),
    ('audience = "patient"\nunit = 1000\n', 2, "must be a non-empty string"),
    ('unit = ""\n', 1, "must be a non-empty string"),
    ("unit = [\n", 1, "not valid TOML"),
    # U+2028 and U+0085 end no TOML line (str.splitlines would count one more)
    ('# a\u2028b\ncolour = "red"\n', 2, "unknown config key 'colour'"),
    ('# \x85\nunit = ""\n', 2, "must be a non-empty string"),
    # Notepad's UTF-8 byte-order mark: invisible, so the message must name it
    ('\ufeffunit = "10^9/L"\n', 1, "byte-order mark"),
]


@pytest.mark.parametrize("text,line_no,what", BROKEN)
def test_broken_file_is_reported_and_never_overwritten(invoke, text, line_no, what):
    cfg_path().parent.mkdir(parents=True)
    cfg_path().write_text(text, encoding="utf-8")
    for args in (
        ("config", "show"),
        ("config", "get", "unit"),
        ("assess", "--anc", "450"),
        ("config", "set", "unit", "cells/uL"),
        ("config", "unset", "unit"),
        ("config", "set", "audience", "patient"),
    ):
        line = one_line_error(invoke(*args), 3)
        assert line.startswith(f"leuko: error: {cfg_path()}:{line_no}:"), line
        assert what in line and "delete the file" in line
        assert cfg_path().read_text(encoding="utf-8") == text
    assert invoke("config", "path").exit_code == 0  # still tells you where it is


def test_non_utf8_config(invoke):
    cfg_path().parent.mkdir(parents=True)
    cfg_path().write_bytes(b'unit = "10^9/L"\n\xff\xfe\n')
    line = one_line_error(invoke("config", "show"), 3)
    assert f"{cfg_path()}:2:" in line and "UTF-8" in line


junk = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.lists(
        st.sampled_from(
            [
                "unit",
                "audience",
                "=",
                '"',
                "[",
                "]",
                "\n",
                " ",
                "x",
                "1",
                "10^9/L",
                "patient",
                "'",
                ".",
                "#",
            ]
        ),
        max_size=40,
    ).map(lambda t: "".join(t).encode()),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=junk)
def test_junk_config_never_tracebacks(invoke, data):
    cfg_path().parent.mkdir(parents=True, exist_ok=True)
    cfg_path().write_bytes(data)
    for args in (
        ("config", "show", "--json"),
        ("config", "set", "audience", "patient"),
        ("manage", "--json"),
    ):
        result = invoke(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.stdout + result.stderr
        if result.exit_code:
            assert result.exit_code in (1, 2, 3)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        if result.exit_code == 3 and args[1] == "set":
            assert cfg_path().read_bytes() == data  # a broken file is never overwritten


# --- the tomllib-free reader agrees with tomllib ------------------------------------------------

_KEY = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
_LINE = st.one_of(
    st.builds(
        lambda k, v, sp: f'{k}{sp}={sp}"{v}"',
        _KEY,
        st.text(max_size=12),
        st.sampled_from(["", " ", "\t"]),
    ),
    st.builds(lambda c: "#" + c, st.text(max_size=12)),
    st.just(""),
    st.text(max_size=12),
    st.builds(lambda k, n: f"{k} = {n}", _KEY, st.integers()),
)


@settings(max_examples=400)
@given(lines=st.lists(_LINE, max_size=6), crlf=st.booleans())
@example(lines=["#\r"], crlf=False)  # a CR at the very end is bare, not a CRLF's
@example(lines=['unit = "x"\r'], crlf=False)
def test_simple_reader_agrees_with_tomllib_or_declines(lines, crlf):
    import tomllib

    text = ("\r\n" if crlf else "\n").join(lines)
    fast = config.parse_simple(text)
    if fast is None:
        return  # tomllib decides, and words any error
    assert fast == tomllib.loads(text)


@settings(max_examples=200)
@given(
    values=st.dictionaries(
        st.sampled_from(list(SETTINGS_KEYS)),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20),
    )
)
def test_files_written_by_config_set_read_back_the_same(values):
    import tomllib

    import tomli_w

    text = tomli_w.dumps(values)
    fast = config.parse_simple(text)
    assert (fast if fast is not None else tomllib.loads(text)) == values
    if all(ch not in v for v in values.values() for ch in '"\\') and all(
        ord(ch) >= 0x20 and ch != "\x7f" for v in values.values() for ch in v
    ):
        assert fast == values  # the common case never needs tomllib
