"""``runstate explain A B``: which state changes caused B's outputs to differ from A's."""

from __future__ import annotations

import sys
from typing import Any

import click

from runstate.cli.output import console, emit_json, env_option, json_option, short


def _factor_list(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    names = [v.strip() for item in value for v in item.split(",") if v.strip()]
    return tuple(names)


@click.command("explain")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option(
    "--max-replays",
    type=click.IntRange(min=2),
    default=32,
    show_default=True,
    metavar="K",
    help="At most K hybrid replays (cached hybrids from earlier explains are free).",
)
@click.option(
    "--factors",
    multiple=True,
    callback=_factor_list,
    metavar="NAMES",
    help="Only these factors (comma-separated names or prefixes: data:, code:, config:…).",
)
@env_option("exact: hybrids run in rebuilt environments, so package changes can be switched.")
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Replays at a time (default: the number of cores).",
)
@click.option(
    "--html", "html_path", metavar="FILE", help="Also write a self-contained HTML report."
)
@json_option
def explain_cmd(
    a: str,
    b: str,
    max_replays: int,
    factors: tuple[str, ...],
    env_mode: str,
    parallel: int | None,
    html_path: str | None,
    as_json: bool,
) -> None:
    """Attribute the change of B's outputs (from A's) to the state changes that caused it.

    Replays hybrid states — A with some of B's changes switched in — and measures how close
    each comes to B's outputs: single switches first, then a minimal set (ddmin) when
    changes only matter together, then Shapley shares. Reports the causes ranked by share,
    the output rows each explains, and the changes that were harmless. Hybrids are cached:
    running explain again replays nothing it has seen.

    Exit 0 when the change is explained (or there is none), 1 when part of it remains
    unexplained (rows no factor reproduces, factors the budget could not separate, A not
    replayable), 2 on bad input.

    \b
    Examples:
      runstate explain scoring@v1 latest
      runstate explain latest~1 latest --max-replays 16 --html explain.html
      runstate explain 01a2b3c4 01a2b3d9 --factors data:,config: --json
    """
    from runstate.explain import ExplainOptions, explain
    from runstate.store.store import Store

    store = Store.open()
    options = ExplainOptions(
        max_replays=max_replays,
        factors=factors,
        env=env_mode,
        parallel=parallel,
        progress=sys.stderr.isatty(),
    )
    document = explain(store, a, b, options)
    if html_path is not None:
        _write_html(document, html_path, quiet=as_json)
    if as_json:
        emit_json(document)
    else:
        render_explain(document)
    sys.exit(0 if document["explained"] else 1)


def _write_html(document: dict[str, Any], path: str, quiet: bool) -> None:
    from runstate.report.explain_html import render_explain as render_html
    from runstate.store.atomic import atomic_write_bytes

    atomic_write_bytes(path, render_html(document).encode("utf-8"))
    click.echo(f"wrote the HTML report to {path}", err=quiet)


_STATUS = {
    "explained": "green",
    "no_change": "green",
    "partly_explained": "yellow",
    "not_replayable": "red",
}


def render_explain(doc: dict[str, Any]) -> None:
    out = console()
    a, b = doc["a"], doc["b"]
    style = _STATUS.get(doc["status"], "")
    out.print(
        f"explain {a.get('release') or short(a['id'], 13)} -> "
        f"{b.get('release') or short(b['id'], 13)}: [bold {style}]{doc['status']}[/]"
    )
    out.print(f"  {doc['statement']}", markup=False, emoji=False)
    if doc["causes"]:
        out.print("[bold]causes[/]")
    for cause in doc["causes"]:
        se = f" ± {100 * cause['shapley_se']:.0f}%" if cause.get("shapley_se") else ""
        out.print(
            f"  {cause['rank']}. {cause['name']}  share {100 * cause['share']:.0f}%{se}  "
            f"rows {cause['rows_explained']}",
            markup=False,
            emoji=False,
        )
        out.print(f"     {cause['statement']}", markup=False, emoji=False)
        for trace in cause["evidence"]["traces"][:2]:
            out.print(
                f"     traced: {trace['output_keys_traced']} of {trace['output_keys_vanished']} "
                f"vanished {trace['output']} keys -> {trace['input_rows_vanished']} rows gone "
                f"from input {trace['input']} ({', '.join(trace['columns'])})",
                markup=False,
                emoji=False,
            )
        for output, rows in list(cause["evidence"]["samples"].items())[:1]:
            if rows:
                out.print(f"     e.g. {output}: {rows[:3]}", markup=False, emoji=False)
        if cause.get("failed"):
            out.print(f"     alone it fails: {cause['failed']}", markup=False, emoji=False)
    if doc["harmless"]:
        out.print("[bold]harmless[/] (changed, no effect on the outputs)")
        for item in doc["harmless"]:
            out.print(f"  {item['name']}: {item['summary']}", markup=False, emoji=False)
    for item in doc["untestable"]:
        out.print(f"  not tested: {item['name']} ({item['reason']})", markup=False, emoji=False)
    for group in doc["confounded"]:
        out.print(f"  [yellow]confounded[/] (raise --max-replays to separate): {', '.join(group)}")
    for item in doc["interactions"]:
        out.print(
            f"  interaction: {' + '.join(item['factors'])}: {item['kind']} — {item['reason']}"
            + (f" ({item['rows']} rows)" if item["rows"] else ""),
            markup=False,
            emoji=False,
        )
    for row in doc["rows"]:
        if row["unexplained"]:
            out.print(
                f"  {row['output']}: {row['unexplained']} of {row['changed']} changed rows "
                "unexplained",
                markup=False,
                emoji=False,
            )
    nondet = doc["nondeterminism"]
    if nondet["detected"]:
        units = ", ".join(f"{k}: {v} rows" for k, v in nondet["noisy_units"].items())
        metrics = ", ".join(nondet["noisy_metrics"])
        out.print(
            "  [bold red]nondeterministic[/]: a replay of A differs from A"
            + (f" ({units})" if units else "")
            + (f"; metrics {metrics}" if metrics else "")
        )
    for note in doc["notes"]:
        out.print(f"  note: {note}", markup=False, emoji=False)
    search = doc["search"]
    out.print(
        f"  {search['replays']} replays ({search['cache_hits']} cached) of at most "
        f"{search['max_replays']}, {search['parallel']} at a time; {doc['seconds']:.1f}s",
        markup=False,
        emoji=False,
    )
