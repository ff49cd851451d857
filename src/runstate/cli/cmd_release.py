"""``runstate release …``, ``runstate alias …`` and ``runstate key …``."""

from __future__ import annotations

import click

from runstate.cli.output import console, emit_json, env_option, json_option, short, tolerance_option
from runstate.store.store import Store


@click.group("release")
def release_group() -> None:
    """Freeze a run's state as an immutable, hash-chained release NAME@vN."""


@release_group.command("create")
@click.argument("name")
@click.option("--run", "run_ref", required=True, help="Run id/prefix, NAME@vN, alias or latest.")
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(dir_okay=False),
    help="Ed25519 private key (PEM) to sign with.",
)
@click.option(
    "--checks",
    "checks_path",
    type=click.Path(dir_okay=False),
    help="checks.yaml: thresholds and severities stored in the release (runstate check).",
)
@click.option(
    "--verify-replay",
    is_flag=True,
    help="Replay the run first; create the release only if it reproduces (exit 1 if not).",
)
@tolerance_option("With --verify-replay: relative tolerance for numeric outputs and metrics.")
@env_option("With --verify-replay: replay in this interpreter or a rebuilt environment.")
@json_option
def release_create(
    name: str,
    run_ref: str,
    sign_key: str | None,
    checks_path: str | None,
    verify_replay: bool,
    tolerance: float,
    env_mode: str,
    as_json: bool,
) -> None:
    """Create the next version of release NAME from a run.

    \b
    Examples:
      runstate release create scoring --run latest
      runstate release create scoring --run 01a2b3c4 --sign keys/release.pem
      runstate release create scoring --run latest --checks checks.yaml
      runstate release create scoring --run latest --verify-replay --tolerance 1e-9
    """
    from runstate.store.refs import resolve_run
    from runstate.store.releases import create_release

    checks = None
    if checks_path is not None:
        from runstate.monitor.settings import load_settings

        checks = load_settings(checks_path)
    store = Store.open()
    run_id = resolve_run(store, run_ref)
    if verify_replay:
        _verify_replay(store, run_id, tolerance, env_mode, quiet=as_json)
    release = create_release(store, name, run_id, sign_key=sign_key, checks=checks)
    if as_json:
        emit_json({"schema": "runstate.release/v1", **release.to_dict()})
    else:
        signed = f", signed by key {release.key_id}" if release.signature else ""
        click.echo(
            f"created {release.ref} from run {release.run_id} "
            f"(state {short(release.state_id)}{signed})"
        )


def _verify_replay(store: Store, run_id: str, tolerance: float, env: str, quiet: bool) -> None:
    """Replay ``run_id``; raise :class:`ReplayMismatch` unless identical or equivalent."""
    from runstate.errors import ReplayMismatch
    from runstate.replay import ReplayOptions, replay

    if not quiet:
        click.echo(f"replaying run {short(run_id, 13)} to verify it reproduces…", err=True)
    verdict = replay(store, run_id, ReplayOptions(env=env, tolerance=tolerance))
    if not verdict:
        why = f": {verdict.reason}" if verdict.reason else ""
        raise ReplayMismatch(
            f"run {short(run_id, 13)} replayed as {verdict.verdict}{why}; no release created"
            " (see `runstate replay` for the details)"
        )
    if not quiet:
        click.echo(
            f"replay {verdict.verdict} (run {short(str(verdict.replay_run_id), 13)})", err=True
        )


@release_group.command("list")
@click.option("--name", help="Only releases of this name.")
@json_option
def release_list(name: str | None, as_json: bool) -> None:
    """List releases.

    \b
    Example:
      runstate release list --name scoring
    """
    from runstate.store.releases import list_releases

    releases = list_releases(Store.open(), name)
    if as_json:
        emit_json({"schema": "runstate.releases/v1", "releases": [r.to_dict() for r in releases]})
        return
    if not releases:
        click.echo("no releases yet: `runstate release create NAME --run RUN`")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("release", "run", "state", "created (UTC)", "by", "signed"):
        table.add_column(column)
    for r in releases:
        table.add_row(
            r.ref,
            short(r.run_id, 13),
            short(r.state_id),
            r.created_at[:19].replace("T", " "),
            r.created_by,
            r.key_id or "-",
        )
    console().print(table)


@release_group.command("show")
@click.argument("ref", metavar="NAME@vN")
@json_option
def release_show(ref: str, as_json: bool) -> None:
    """Show a release and its manifest.

    \b
    Example:
      runstate release show scoring@v1 --json
    """
    from runstate.store.releases import get_release

    store = Store.open()
    release = get_release(store, ref)
    manifest = store.load_json(release.manifest_id)
    if as_json:
        emit_json({"schema": "runstate.release/v1", **release.to_dict(), "manifest": manifest})
        return
    out = console()
    out.print(f"[bold]{release.ref}[/]  run {release.run_id}  ({manifest.get('run_name')})")
    out.print(f"  created {release.created_at} by {release.created_by}")
    out.print(f"  manifest {release.manifest_id}")
    out.print(f"  previous {release.previous_id or '(first version)'}")
    out.print(f"  signature {'key ' + str(release.key_id) if release.signature else 'none'}")
    out.print(f"  state {release.state_id}")
    for name, comp in manifest["state"]["components"].items():
        out.print(f"    {name:<20} {short(comp)}", markup=False)
    for name, fingerprint in manifest.get("outputs", {}).items():
        out.print(f"  output {name:<20} {short(fingerprint)}", markup=False)
    for key, value in manifest.get("metrics", {}).items():
        out.print(f"  metric {key:<20} {value}", markup=False)


@click.group("alias")
def alias_group() -> None:
    """Movable labels such as production that point at releases; every move is logged."""


@alias_group.command("set")
@click.argument("alias")
@click.argument("ref", metavar="NAME@vN")
@json_option
def alias_set(alias: str, ref: str, as_json: bool) -> None:
    """Point ALIAS at release NAME@vN.

    \b
    Example:
      runstate alias set production scoring@v2
    """
    from runstate.store.releases import set_alias

    release, previous = set_alias(Store.open(), alias, ref)
    if as_json:
        emit_json(
            {
                "schema": "runstate.alias/v1",
                "alias": alias,
                "target": release.ref,
                "previous": previous,
                "run_id": release.run_id,
            }
        )
    else:
        moved = f" (was {previous})" if previous else ""
        click.echo(f"{alias} -> {release.ref}{moved}")


@alias_group.command("list")
@click.option("--history", is_flag=True, help="Show every move, oldest first.")
@json_option
def alias_list(history: bool, as_json: bool) -> None:
    """List aliases and their targets (or their full history).

    \b
    Examples:
      runstate alias list
      runstate alias list --history --json
    """
    metadata = Store.open().metadata
    aliases = [
        {
            "alias": a["name"],
            "target": f"{a['release_name']}@v{a['release_version']}",
            "updated_at": a["updated_at"],
        }
        for a in metadata.aliases()
    ]
    moves = (
        [
            {
                "alias": m["alias"],
                "previous": m["previous"],
                "target": m["target"],
                "at": m["at"],
                "by": m["by"],
            }
            for m in metadata.alias_history()
        ]
        if history
        else None
    )
    if as_json:
        document = {"schema": "runstate.aliases/v1", "aliases": aliases}
        if moves is not None:
            document["history"] = moves
        emit_json(document)
        return
    if moves is not None:
        for move in moves:
            click.echo(
                f"{move['at'][:19]}  {move['alias']}: {move['previous'] or '(new)'} "
                f"-> {move['target']}  by {move['by']}"
            )
        return
    if not aliases:
        click.echo("no aliases yet: `runstate alias set production NAME@vN`")
    for item in aliases:
        click.echo(f"{item['alias']:<20} -> {item['target']}  (since {item['updated_at'][:19]})")


@click.group("key")
def key_group() -> None:
    """Signing keys: generate one, pin public keys the store trusts."""


@key_group.command("generate")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
def key_generate(path: str, as_json: bool) -> None:
    """Write a new Ed25519 private key to PATH (mode 0600) and PATH.pub.

    \b
    Example:
      runstate key generate ~/.runstate-release.pem && runstate key add ~/.runstate-release.pem.pub
    """
    from runstate.store.signing import generate_key

    key_id, public_path = generate_key(path)
    if as_json:
        emit_json(
            {
                "schema": "runstate.key/v1",
                "key_id": key_id,
                "private_key": path,
                "public_key": public_path,
            }
        )
    else:
        click.echo(f"key {key_id}: private {path}, public {public_path}")


@key_group.command("add")
@click.argument("public_key", type=click.Path(dir_okay=False))
@json_option
def key_add(public_key: str, as_json: bool) -> None:
    """Pin PUBLIC_KEY (PEM) in the store: releases signed with it will verify.

    \b
    Example:
      runstate key add keys/release.pem.pub
    """
    from runstate.store.signing import key_id, load_public_key_raw

    store = Store.open()
    raw = load_public_key_raw(public_key)
    identifier = key_id(raw)
    config = dict(store.config)
    config["trusted_keys"] = {**config.get("trusted_keys", {}), identifier: raw.hex()}
    store.write_config(config)
    if as_json:
        emit_json({"schema": "runstate.key/v1", "key_id": identifier, "public_key": public_key})
    else:
        click.echo(f"pinned key {identifier}")


@key_group.command("list")
@json_option
def key_list(as_json: bool) -> None:
    """List the public keys pinned in this store.

    \b
    Example:
      runstate key list --json
    """
    keys = Store.open().config.get("trusted_keys", {})
    if as_json:
        emit_json(
            {
                "schema": "runstate.keys/v1",
                "keys": [{"key_id": k, "public_key_hex": v} for k, v in sorted(keys.items())],
            }
        )
        return
    for identifier in sorted(keys):
        click.echo(identifier)
