"""Regenerate every generated part of docs/ (checked by tests/test_docs.py).

    python docs/generate.py

Whole files: cli-reference.md (every --help), sources.md (the KB's references), fields.md (the
field table). Blocks inside hand-written pages, between `<!-- generated: NAME -->` and
`<!-- end generated -->`: exit codes, batch columns, LOINC codes, settings, KB tables. Each is
rendered from the code that the CLI runs (fields.py, errors.py, kb schema), so the docs cannot
drift from it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(DOCS))

BLOCK = re.compile(r"(<!-- generated: ([a-z-]+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def _table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _code(items) -> str:
    return ", ".join(f"`{i}`" for i in items) or ""


def input_fields() -> str:
    from leuko_cli.fields import INPUTS

    return _table(
        ["field", "flag", "kind", "batch columns", "FHIR LOINC", "meaning"],
        [
            [
                f"`{f.name}`",
                _code(f.flags),
                f.kind,
                _code(f.columns) or "-",
                _code(f.loinc) or "-",
                f.help,
            ]
            for f in INPUTS
        ],
    )


def result_fields() -> str:
    from leuko_cli.fields import RESULTS

    return _table(
        ["field", "type", "batch column", "meaning"],
        [
            [
                f"`{r.name}`",
                r.type.replace("|", " or "),
                "yes" if r.batch else "",
                r.help + (" (present only when it applies)" if r.optional else ""),
            ]
            for r in RESULTS
        ],
    )


def batch_columns() -> str:
    from leuko_cli.fields import BATCH_FIELDS

    return _table(
        ["column", "meaning", "also accepted"],
        [[f"`{f.columns[0]}`", f.help, _code(f.columns[1:]) or ""] for f in BATCH_FIELDS],
    )


def batch_results() -> str:
    from leuko_cli.fields import BATCH_EXTRA, BATCH_RESULTS, RESULTS

    helps = {r.name: (r.type.replace("|", " or "), r.help) for r in (*RESULTS, *BATCH_EXTRA)}
    helps["error"] = (
        "string or null",
        "why the row could not be graded; empty or null when it was",
    )
    return _table(
        ["column", "JSON type", "meaning"], [[f"`{name}`", *helps[name]] for name in BATCH_RESULTS]
    )


def series_columns() -> str:
    from leuko_cli.series_fields import CDISC_TESTS, SERIES_COLUMNS

    rows = [[f"`{c.name}`", _code(c.columns), c.help] for c in SERIES_COLUMNS]
    tests = ", ".join(f"`{k}` -> `{v}`" for k, v in CDISC_TESTS.items())
    return _table(["column", "names (first non-empty wins)", "meaning"], rows) + (
        f"\nCDISC test codes: {tests}.\n"
    )


def loinc() -> str:
    from leuko_cli.fields import INPUTS

    return _table(
        ["field", "LOINC codes"],
        [[f"`{f.name}` ({f.label})", _code(f.loinc)] for f in INPUTS if f.loinc],
    )


def exit_codes() -> str:
    from leuko_cli.errors import EXIT_CODES

    return _table(["exit code", "meaning"], [[str(k), v] for k, v in EXIT_CODES.items()])


def limits() -> str:
    from leuko_cli.batch.limits import LIMITS

    return _table(
        ["environment variable", "default (bytes)", "what it caps"],
        [[f"`{var}`", f"{default:,}", what] for var, default, what in LIMITS.values()],
    )


def on_error() -> str:
    from leuko_cli.batch.grade import ON_ERROR

    return _table(["`--on-error`", "a bad row is"], [[f"`{k}`", v] for k, v in ON_ERROR.items()])


def settings_keys() -> str:
    from leuko_cli.fields import BY_NAME, SETTINGS_KEYS
    from leuko_cli.settings import KB_DEFAULTS, env_var

    return _table(
        ["key", "flag", "environment", "default (KB `[settings]`)", "meaning"],
        [
            [
                f"`{k}`",
                f"`{BY_NAME[k].flag}`",
                f"`{env_var(k)}`",
                f"`{KB_DEFAULTS[k]}`",
                BY_NAME[k].help,
            ]
            for k in SETTINGS_KEYS
        ],
    )


def kb_tables() -> str:
    from leuko_cli import kb

    out = []
    for name, schema in [
        ("meta", kb.META),
        ("settings", kb.SETTINGS),
        *((t, kb.SCHEMA[t]) for t in kb.TABLES),
    ]:
        header = f"[{name}]" if name in ("meta", "settings") else f"[[{name}]]"
        out.append(
            f"### `{header}`\n\n"
            + _table(
                ["field", "type", "required", "allowed"],
                [
                    [f"`{field}`", kind, "yes" if required else "no", _allowed(kind, extra)]
                    for field, (kind, required, extra) in schema.items()
                ],
            )
        )
    return "\n".join(out)


def _allowed(kind: str, extra: dict) -> str:
    if kind == "table":
        return "nested entries: " + ", ".join(f"`{k}`" for k in extra)
    if "enum" in extra:
        return "one of " + _code(extra["enum"])
    if "ref" in extra:
        return f"ids of `[[{extra['ref']}]]`"
    if "pattern" in extra:
        return f"matches `{extra['pattern']}`"
    return ""


BLOCKS = {
    "input-fields": input_fields,
    "result-fields": result_fields,
    "batch-columns": batch_columns,
    "batch-results": batch_results,
    "loinc": loinc,
    "series-columns": series_columns,
    "exit-codes": exit_codes,
    "limits": limits,
    "on-error": on_error,
    "settings": settings_keys,
    "kb-tables": kb_tables,
}


def fields_page() -> str:
    return (
        "# Fields\n\n"
        "Generated from `src/leuko_cli/fields.py` by `python docs/generate.py`; "
        "`tests/test_docs.py` fails when it is out of date. The same table makes the "
        "`leuko assess` options, the batch column names, the FHIR LOINC mapping and "
        "`leuko schema`.\n\n"
        "## Inputs\n\n" + input_fields() + "\n"
        "Counts and limits are plain decimal numbers with a dot (`0.45`, `450`): a "
        "decimal comma, a thousands separator, a unit glued to the number, an exponent or "
        "an empty value is refused with the fix. An empty CSV cell or a JSON `null` means "
        "the field is absent.\n\n"
        "## Result (`leuko assess --json`)\n\n" + result_fields()
    )


# README examples: real output of the current code at 80 columns, no colour, no user config
EXAMPLES = {
    "example-assess": ["assess", "--anc", "450"],
    "example-causes": ["causes", "--category", "nutritional"],
    "example-search": ["search", "G-CSF", "--limit", "2"],
    "example-trend": ["trend", "docs/examples/series.csv", "--day1", "2024-03-01"],
}


def example(argv: list[str]) -> str:
    import contextlib
    import tempfile

    from typer.testing import CliRunner

    from leuko_cli.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        env = {"COLUMNS": "80", "NO_COLOR": "1", "LEUKO_COLOR": "never", "LEUKO_NO_PAGER": "1"}
        env |= {f"LEUKO_{k}_DIR": f"{tmp}/{k.lower()}" for k in ("CONFIG", "DATA", "CACHE")}
        env |= {"LEUKO_UNIT": None, "LEUKO_CTCAE_VERSION": None, "LEUKO_AUDIENCE": None}
        with contextlib.chdir(ROOT):  # file arguments are relative to the repository
            result = CliRunner().invoke(app, argv, prog_name="leuko", env=env)
    return "```\n$ leuko " + " ".join(argv) + "\n" + result.stdout + "```\n"


def render_block(name: str) -> str:
    if name in EXAMPLES:
        return example(EXAMPLES[name])
    return BLOCKS[name]()


def refreshed(text: str) -> str:
    """The page with every generated block re-rendered."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group(2)) + m.group(4), text)


def pages() -> dict[Path, str]:
    """path -> the text it should have."""
    import gen_cli_reference
    import gen_sources

    out = {
        DOCS / "cli-reference.md": gen_cli_reference.render(),
        DOCS / "sources.md": gen_sources.render(),
        DOCS / "fields.md": fields_page(),
    }
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        if path in out:
            continue
        text = path.read_text("utf-8")
        if BLOCK.search(text):
            out[path] = refreshed(text)
    return out


if __name__ == "__main__":
    for path, text in pages().items():
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
