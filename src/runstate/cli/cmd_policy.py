"""``runstate policy apply | history | show | diff | test``: access policies in the store."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from runstate.cli.output import console, emit_json, json_option, short
from runstate.store.store import Store


@click.group("policy")
def policy_group() -> None:
    """Manage access policies: versions in the store, diffs, and dry runs.

    A run's policy is the project's runstate-policy.yaml if there is one, else the store's
    current version (see docs/policy.md).

    \b
    Examples:
      runstate policy apply runstate-policy.yaml
      runstate policy history --json
      runstate policy diff v1 v2
      runstate policy test new-policy.yaml --run latest
    """


def _version_document(version: Any, store: Store, text: bool = True) -> dict[str, Any]:
    from runstate.policy.versions import VERSION_SCHEMA, version_text

    return {
        "schema": VERSION_SCHEMA,
        "ref": version.ref,
        **version.to_dict(),
        "text": version_text(store, version) if text else None,
    }


@policy_group.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def policy_apply(file: str, as_json: bool) -> None:
    """Validate FILE and store it as the next immutable, hash-chained policy version.

    Applying a document identical to the current version creates nothing.

    \b
    Examples:
      runstate policy apply runstate-policy.yaml
      runstate policy apply policies/scoring.yaml --json
    """
    from runstate.errors import PolicyError
    from runstate.policy.versions import apply_policy

    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise PolicyError(f"{file}: no such policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{file}: cannot read the policy file ({exc})") from None
    store = Store.open()
    version, created = apply_policy(store, text, file)
    if as_json:
        emit_json({**_version_document(version, store, text=False), "created": created})
        return
    if created:
        click.echo(f"policy {version.ref} applied ({short(version.id)}), from {file}")
    else:
        click.echo(f"policy unchanged: {version.ref} ({short(version.id)}) already holds {file}")


@policy_group.command("history")
@json_option
def policy_history(as_json: bool) -> None:
    """List the applied policy versions, newest first, after checking the hash chain.

    \b
    Examples:
      runstate policy history
      runstate policy history --json
    """
    from runstate.policy.versions import history

    store = Store.open()
    versions = history(store)
    if as_json:
        emit_json(
            {
                "schema": "runstate.policy-history/v1",
                "chain_ok": True,
                "versions": [
                    {
                        "ref": v.ref,
                        "version": v.version,
                        "id": v.id,
                        "previous": v.previous,
                        "created_at": v.created_at,
                        "created_by": v.created_by,
                        "source": v.source,
                        "default": v.document.default,
                        "rules": len(v.document.datasets),
                    }
                    for v in versions
                ],
            }
        )
        return
    if not versions:
        click.echo("no policy applied yet: try `runstate policy apply runstate-policy.yaml`")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("version", "id", "created (UTC)", "by", "default", "rules", "source"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            v.ref,
            short(v.id),
            v.created_at[:19].replace("T", " "),
            v.created_by,
            v.document.default,
            str(len(v.document.datasets)),
            v.source or "-",
        )
    console().print(table)
    click.echo(f"hash chain verified ({len(versions)} versions)")


@policy_group.command("show")
@click.argument("ref", required=False, metavar="[vN]")
@json_option
def policy_show(ref: str | None, as_json: bool) -> None:
    """Show policy version vN (default: the current one) as it was applied.

    \b
    Examples:
      runstate policy show
      runstate policy show v2 --json
    """
    from runstate.policy.versions import get_version

    store = Store.open()
    version = get_version(store, ref)
    document = _version_document(version, store)
    if as_json:
        emit_json(document)
        return
    click.echo(
        f"policy {version.ref}  id {version.id}\n"
        f"applied {version.created_at} by {version.created_by}"
        f"{f' from {version.source}' if version.source else ''}\n"
    )
    if document["text"] is not None:
        click.echo(document["text"].rstrip("\n"))


def _load_side(store: Store, ref: str) -> tuple[Any, str]:
    """``vN`` (a stored version) or a path to a policy file."""
    import re

    from runstate.policy.document import load_policy_file
    from runstate.policy.versions import get_version

    if re.match(r"^v[0-9]+$", ref) and not os.path.exists(ref):
        return get_version(store, ref).document, ref
    return load_policy_file(ref), ref


@policy_group.command("diff")
@click.argument("a", metavar="vA")
@click.argument("b", metavar="vB")
@json_option
def policy_diff(a: str, b: str, as_json: bool) -> None:
    """Rule-level diff of two policy versions (or policy files); exit 1 if they differ.

    \b
    Examples:
      runstate policy diff v1 v2
      runstate policy diff v2 runstate-policy.yaml --json
    """
    from runstate.policy.diff import diff_documents

    store = Store.open()
    doc_a, label_a = _load_side(store, a)
    doc_b, label_b = _load_side(store, b)
    result = diff_documents(doc_a, doc_b, label_a, label_b)
    if as_json:
        emit_json(result.to_dict())
    elif not result:
        click.echo(f"{label_a} and {label_b} have the same rules")
    else:
        click.echo(f"policy {label_a} -> {label_b}:")
        for line in result.lines():
            click.echo(f"  {line}")
    sys.exit(1 if result else 0)


@policy_group.command("test")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--run", "run_ref", required=True, help="The recorded run to preview on.")
@click.option("--principal", help="Evaluate as this principal (default: the run's).")
@click.option("--purpose", help="Evaluate for this purpose (default: the run's).")
@json_option
def policy_test(
    file: str, run_ref: str, principal: str | None, purpose: str | None, as_json: bool
) -> None:
    """Dry run: what policy FILE would do to a recorded run's table inputs.

    Evaluated on the stored snapshots; nothing is run and nothing is recorded.

    \b
    Examples:
      runstate policy test new-policy.yaml --run latest
      runstate policy test new-policy.yaml --run scoring@v3 --principal svc-batch --json
    """
    from runstate.policy.document import load_policy_file
    from runstate.policy.preview import preview_policy
    from runstate.store.refs import resolve_run

    document = load_policy_file(file)
    store = Store.open()
    run_id = resolve_run(store, run_ref)
    preview = preview_policy(store, document, run_id, principal, purpose)
    if as_json:
        emit_json(preview.to_dict())
        return
    click.echo(
        f"policy {file} on run {run_id} (recorded under {preview.recorded_policy}), "
        f"as {preview.principal or '(no principal)'} for {preview.purpose or '(no purpose)'}:"
    )
    if not preview.datasets:
        click.echo("  the run read no tables")
    for item in preview.datasets:
        rule = f"rule {item.rule!r}" if item.rule else "the default"
        if item.decision == "deny":
            click.echo(f"  {item.dataset}: DENIED by {rule} ({item.reason})")
            continue
        excluded = "?" if item.would_exclude is None else str(item.would_exclude)
        click.echo(
            f"  {item.dataset}: allowed by {rule}; of {item.rows_recorded} recorded rows "
            f"{excluded} would be excluded, up to {item.let_in_at_most} let in"
        )
        for column, change in item.columns.items():
            if change["recorded"] != change["would"]:
                click.echo(
                    f"    column {column}: {change['recorded'] or 'as is'} -> "
                    f"{change['would'] or 'as is'}"
                )
        for note in item.notes:
            click.echo(f"    note: {note}")
