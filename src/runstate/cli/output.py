"""Rendering helpers shared by the commands: JSON documents and the rich console.

rich is imported only when something is rendered for a person, never for ``--json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

__all__ = ["console", "emit_json", "json_option", "short"]


def emit_json(document: dict[str, Any]) -> None:
    """Write one JSON document (with its ``schema`` field) to stdout."""
    assert "schema" in document, "every JSON document names its schema"
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")


def json_option(fn: Any) -> Any:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print a JSON document instead of text."
    )(fn)


def env_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--env current|exact`` of the commands that replay (replay, explain, release)."""
    return click.option(
        "--env",
        "env_mode",
        type=click.Choice(["current", "exact"]),
        default="current",
        show_default=True,
        help=help,
    )


def tolerance_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--tolerance REL`` of the commands that grade replays (replay, release)."""
    return click.option(
        "--tolerance",
        type=click.FloatRange(min=0.0),
        default=0.0,
        show_default=True,
        metavar="REL",
        help=help,
    )


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    # soft_wrap: long lines are not cut and re-wrapped at 80 columns when piped.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def short(identifier: str | None, length: int = 12) -> str:
    return "-" if not identifier else identifier[:length]


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
