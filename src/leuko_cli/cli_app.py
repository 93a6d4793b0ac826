"""The Typer application every command registers on: the group that turns every error into one
line (errors.report), the root options, and the pieces the command modules share.

The commands live in cli_queries.py (reference queries), cli_files.py (trend and batch) and
cli_admin.py (schema, help, kb, config); cli.py imports them in that order, which is the order
`leuko --help` lists them in.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer
from typer.core import TyperGroup

try:  # Typer 0.28 vendors Click as typer._click; older releases use click itself
    from typer._click import exceptions as click_exc
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter, wrap_text
except ImportError:  # pragma: no cover
    from click import exceptions as click_exc
    from click.core import Context
    from click.formatting import HelpFormatter, wrap_text

from . import __version__
from .errors import InputError, OutputClosed, closest, nearest, not_empty, run_guarded
from .fields import AUDIENCES
from .output import emit


class _Interrupted(Exception):
    """Ctrl-C carried past Typer's main, which would end the run silently with 130."""


NARROW = 50  # Click's floor: narrower, options are stacked, each help under its option


class LeukoFormatter(HelpFormatter):
    """Click's help, readable from 40 columns: Click never wraps under 50 and keeps a 30-column
    option column, so at 40 every line wrapped again in the terminal. When narrow, each option
    (or command) is on its own line and its help is wrapped under it."""

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        if self.width >= NARROW:
            return super().write_dl(rows, col_max, col_spacing)
        indent = " " * (self.current_indent + 4)
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}\n")
            if second:
                width = max(self.width - len(indent), 20)
                text = wrap_text(second, width, initial_indent=indent, subsequent_indent=indent)
                self.write(text + "\n")

    def getvalue(self) -> str:
        # narrow, Click puts "Usage: leuko assess " on a line of its own, space and all
        return "\n".join(line.rstrip() for line in super().getvalue().split("\n"))


class LeukoContext(Context):
    formatter_class = LeukoFormatter


class LeukoGroup(TyperGroup):
    """Every error becomes one line on stderr (errors.report); usage errors exit 2."""

    context_class = LeukoContext

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            cmd.context_class = LeukoContext  # its --help gets the narrow layout too
        return cmd

    def make_context(self, info_name, args, parent=None, **extra):
        # Click's own width never goes under 50 columns; sub-contexts inherit this one
        if parent is None and "terminal_width" not in extra:
            import shutil

            columns = shutil.get_terminal_size().columns
            if columns - 2 < NARROW:  # wider: Click's width, as before
                extra["terminal_width"] = max(columns - 2, 30)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `| head`: Typer would exit 1; errors.report exits 0
            raise OutputClosed from None
        except KeyboardInterrupt:  # Typer would turn it into a silent exit 130
            raise _Interrupted from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        if not args:
            args = ["--help"]  # `leuko` alone shows the help, and exits 0

        def invoke() -> int:
            _refuse_repeated_options(self, args)
            try:
                rv = super(LeukoGroup, self).main(
                    args, prog_name, complete_var, standalone_mode=False, **extra
                )
            except click_exc.UsageError as err:
                path = err.ctx.command_path if err.ctx else "leuko"
                hint = _choice_hint(err, args)
                raise InputError(f"{err.format_message()}{hint} (see '{path} --help')") from None
            except click_exc.ClickException as err:
                raise InputError(err.format_message()) from None
            except _Interrupted:
                raise KeyboardInterrupt from None  # run_guarded: "leuko: interrupted", 130
            except typer.Exit as err:
                return err.exit_code
            except typer.Abort:
                raise KeyboardInterrupt from None
            return rv if isinstance(rv, int) else 0

        code = run_guarded(invoke)
        if standalone_mode:
            sys.exit(code)
        return code


def _choice_hint(err, args: list[str]) -> str:
    """Click names the nearest command or option, not the nearest choice of an option's value
    (`--color alwys`): find the value the user gave and name the closest choice."""
    param = getattr(err, "param", None)
    choices = getattr(getattr(param, "type", None), "choices", None)
    if not choices or not getattr(param, "opts", None):
        return ""
    given = None
    for i, arg in enumerate(args):
        for opt in param.opts:
            if arg == opt and i + 1 < len(args):
                given = args[i + 1]
            elif arg.startswith(opt + "="):
                given = arg[len(opt) + 1 :]
    near = None if given is None else closest(given, [getattr(c, "value", c) for c in choices])
    return "" if near is None else f" Did you mean {near!r}?"  # Click's own wording


def _refuse_repeated_options(group, args: list[str]) -> None:
    """A single-value option given twice is refused, never "last one wins" (Click's rule):
    `--temp 37 --temp 38.6` would silently drop a reading."""
    command, rest = group, list(args)
    while (
        isinstance(getattr(command, "commands", None), dict)
        and rest
        and rest[0] in command.commands
    ):
        command = command.commands[rest.pop(0)]
    names = {}
    for param in getattr(command, "params", []):
        if (
            getattr(param, "param_type_name", "") == "option"
            and not getattr(param, "multiple", False)
            and not getattr(param, "count", False)
        ):
            for opt in (*param.opts, *param.secondary_opts):
                names[opt] = param
    seen: dict = {}
    for i, token in enumerate(rest):
        if token == "--":
            break
        name, _, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        param = names.get(name)
        if param is None:
            continue
        value = inline or (rest[i + 1] if not param.is_flag and i + 1 < len(rest) else None)
        if param.name in seen:
            first_name, first_value = seen[param.name]
            both = f" ({first_value!r} and {value!r})" if value is not None else ""
            raise InputError(f"{name} is given twice{both}; give it once")
        seen[param.name] = (name, value)


def sub_app(help_text: str, **kw) -> typer.Typer:
    return typer.Typer(
        cls=LeukoGroup,
        help=help_text,
        no_args_is_help=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=None,
        **kw,
    )


def examples(*lines: str) -> str:
    """An epilog of examples, one copy-pasteable command per line (Click's \\b keeps the
    paragraph from being rewrapped)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


app = sub_app(
    "leuko: an offline, cited clinical reference on leukopenia and neutropenia. Educational "
    "reference only, not a substitute for clinical judgement.",
    epilog=examples(
        "leuko assess --anc 450",
        "leuko causes --category drugs",
        "leuko causes show clozapine",
        "leuko refs --json",
    ),
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"leuko {__version__}")
        raise typer.Exit()


class ColorChoice(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
    color: Optional[ColorChoice] = typer.Option(
        None,
        "--color",
        case_sensitive=False,
        help="auto (default: colour on a terminal, honouring NO_COLOR and FORCE_COLOR), "
        "always or never. Also LEUKO_COLOR.",
    ),
    no_pager: bool = typer.Option(
        False,
        "--no-pager",
        help="Never page long output (it is paged only on a terminal; LEUKO_PAGER chooses "
        "the pager, LEUKO_PAGER=cat turns it off).",
    ),
) -> None:
    """leuko: an offline, cited clinical reference on leukopenia and neutropenia."""
    import os

    # process-wide choices that render.py and output.py read, as the environment would be
    if color is not None:
        os.environ["LEUKO_COLOR"] = color.value
    if no_pager:
        os.environ["LEUKO_NO_PAGER"] = "1"


Audience = Enum("Audience", {a: a for a in AUDIENCES}, type=str)


def out(answer, as_json: bool = False) -> None:
    code = emit(answer, as_json)
    if code:
        raise typer.Exit(code)


JSON_OPT = typer.Option(
    False, "--json", help="Print JSON (the contract is in docs/fields.md and docs/usage.md)."
)
FORMAT_TSV_OPT = typer.Option(
    None,
    "--format",
    metavar="FORMAT",
    help="text (default) or tsv: one tab-separated line per row, with a header, for grep/cut.",
)


def tabular(answer, out_format: Optional[str], as_json: bool):
    """The answer, or its rows as TSV lines when --format tsv."""
    not_empty("--format", out_format)
    fmt = (out_format or "text").strip().lower()
    if fmt not in ("text", "tsv"):
        hint = nearest(out_format, ("text", "tsv"))
        raise InputError(f"unknown --format {out_format!r}{hint}; use text or tsv")
    if fmt == "text":
        return answer
    if as_json:
        raise InputError("--json and --format tsv are two formats; give one")
    from . import tsv

    return tsv.answer(answer)


AUDIENCE_OPT = typer.Option(
    None, "--audience", help="clinician or patient wording.", case_sensitive=False
)
