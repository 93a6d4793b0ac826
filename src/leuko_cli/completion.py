"""Shell completion callbacks (Typer `autocompletion=`): values read from the knowledge base,
so a completed category, lineage, cause id, scale id or drug name is one the CLI accepts
(tests/test_conventions.py)."""

from __future__ import annotations


def _kb_values(table: str, key: str = "id") -> list[str]:
    from .kb import load

    try:
        return [str(e[key]) for e in load().table(table)]
    except Exception:  # noqa: BLE001 - completion must never print a traceback into a shell
        return []


def _starting(values, incomplete: str) -> list[str]:
    """The values that start with `incomplete`. A value that is not printable (an overlay's
    ESC, BEL, newline or bidi control) is left out: the shell would print it raw, and no one
    can type it anyway."""
    low = incomplete.casefold()
    return sorted({v for v in values if v.isprintable() and v.casefold().startswith(low)})


def complete_category(incomplete: str) -> list[str]:
    return _starting(_kb_values("categories"), incomplete)


def complete_lineage(incomplete: str) -> list[str]:
    from .kb.schema import LINEAGES

    return _starting(LINEAGES, incomplete)


def complete_cause(incomplete: str) -> list[str]:
    return _starting(_kb_values("causes"), incomplete)


def complete_scale(incomplete: str) -> list[str]:
    return _starting(_kb_values("scales"), incomplete)


def complete_drug(incomplete: str) -> list[str]:
    from .kb import load

    try:
        causes = load().table("causes")
    except Exception:  # noqa: BLE001
        return []
    return _starting((d for c in causes for d in c.get("drugs") or []), incomplete)


def complete_monitored_drug(incomplete: str) -> list[str]:
    return _starting(_kb_values("drug_monitoring", "drug"), incomplete)
