"""Schema, help, the knowledge base (kb) and settings (config) commands."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from . import commands
from .cli_app import (
    JSON_OPT,
    app,
    examples,
    out,
    sub_app,
)
from .errors import InputError, nearest
from .fields import SETTINGS_KEYS


@app.command(epilog=examples("leuko schema", "leuko schema output"))
def schema(
    which: str = typer.Argument(
        "input", metavar="[input|output]", help="The assess input (default) or its output."
    ),
    as_json: bool = typer.Option(False, "--json", help="Accepted: the schema is JSON already."),
) -> None:
    """JSON Schema of an assessment's input or output, generated from the field table."""
    from . import schema as schema_mod

    out(commands.Answer("json", schema_mod.schema(which)))


@app.command("help", epilog=examples("leuko help", "leuko help assess", "leuko help causes show"))
def help_command(
    ctx: typer.Context,
    command: Optional[list[str]] = typer.Argument(
        None, metavar="[COMMAND]...", help="The command to explain (default: all)."
    ),
) -> None:
    """Show the help of leuko or of one command (the same as COMMAND --help)."""
    target, target_ctx = ctx.parent.command, ctx.parent
    for name in command or []:
        sub = getattr(target, "commands", {}).get(name)
        if sub is None:
            hint = nearest(name, getattr(target, "commands", {}))
            raise InputError(f"no command {' '.join(command)!r}{hint}; see 'leuko help'")
        target_ctx = type(ctx)(sub, info_name=name, parent=target_ctx)
        target = sub
    typer.echo(target.get_help(target_ctx))


# --- knowledge base ----------------------------------------------------------------------------

kb_app = sub_app("Knowledge-base information and checks.")
app.add_typer(kb_app, name="kb")


@kb_app.command("info", epilog=examples("leuko kb info --json"))
def kb_info(as_json: bool = JSON_OPT) -> None:
    """Version, last update, counts by category and review status, overlay status."""
    out(commands.kb_info(), as_json)


@kb_app.command("path", epilog=examples("leuko kb path"))
def kb_path(as_json: bool = JSON_OPT) -> None:
    """Print where your personal overlay lives (it need not exist yet)."""
    from . import paths

    out(commands.path_answer(paths.overlay_file()), as_json)


@kb_app.command("check", epilog=examples("leuko kb check", "leuko kb check my-overlay.toml"))
def kb_check(
    file: Optional[str] = typer.Argument(
        None,
        metavar="[FILE]",
        help="KB or overlay file (default: your overlay if it exists, else the bundled KB).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Validate a knowledge-base or overlay file: OK (exit 0), or one line per problem with
    file and line (exit 1). An overlay is checked merged with the bundled KB."""
    out(commands.kb_check(file), as_json)


class ExportFormat(str, Enum):
    toml = "toml"
    json = "json"


@kb_app.command(
    "export",
    epilog=examples("leuko kb export > kb.toml", "leuko kb export --format json --output kb.json"),
)
def kb_export(
    fmt: ExportFormat = typer.Option(
        ExportFormat.toml,
        "--format",
        "-f",
        case_sensitive=False,
        help="toml (default; valid as an overlay) or json.",
    ),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write to FILE (atomically) instead of stdout (- is stdout)."
    ),
) -> None:
    """Write the merged knowledge base (bundled + overlay) in the schema an overlay accepts."""
    out(commands.kb_export(fmt.value, output))


# --- settings ----------------------------------------------------------------------------------

config_app = sub_app(
    f"Show and change your settings: {', '.join(SETTINGS_KEYS)}. Precedence: "
    "command-line flag > environment LEUKO_<KEY> > config file > default from "
    "the knowledge base."
)
app.add_typer(config_app, name="config")

CONFIG_KEY_ARG = typer.Argument(..., metavar="KEY", help=f"One of: {', '.join(SETTINGS_KEYS)}.")


@config_app.command("path", epilog=examples("leuko config path"))
def config_path(as_json: bool = JSON_OPT) -> None:
    """Print where the config file lives (it need not exist yet)."""
    from . import paths

    out(commands.path_answer(paths.config_file()), as_json)


@config_app.command("show", epilog=examples("leuko config show", "leuko config show --json"))
def config_show(as_json: bool = JSON_OPT) -> None:
    """Every setting: its effective value and where it came from."""
    out(commands.config_show(), as_json)


@config_app.command(
    "get",
    epilog=examples(
        "leuko config get unit",
        "leuko config get ctcae_version --show-origin",
        "leuko config get unit --json",
    ),
)
def config_get(
    key: str = CONFIG_KEY_ARG,
    as_json: bool = JSON_OPT,
    show_origin: bool = typer.Option(
        False, "--show-origin", help="Also say where the value came from."
    ),
) -> None:
    """Print one setting's effective value: the one `leuko assess` would use."""
    out(commands.config_get(key, show_origin=show_origin), as_json)


@config_app.command(
    "set",
    epilog=examples(
        "leuko config set unit 10^9/L",
        "leuko config set ctcae_version 5.0",
        "leuko config set audience patient",
    ),
)
def config_set(
    key: str = CONFIG_KEY_ARG,
    value: str = typer.Argument(..., metavar="VALUE", help="The new value (checked first)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Validate and save a setting; a refused value leaves the file untouched."""
    out(commands.config_set(key, value), as_json)


@config_app.command("unset", epilog=examples("leuko config unset unit"))
def config_unset(key: str = CONFIG_KEY_ARG, as_json: bool = JSON_OPT) -> None:
    """Remove a setting from the config file (back to the environment or the default)."""
    out(commands.config_unset(key), as_json)
