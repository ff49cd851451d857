"""``runstate run -- CMD``: run a command under capture (kept free of heavy imports)."""

from __future__ import annotations

import sys

import click

from runstate.capture.launcher import LaunchOptions, launch, parse_param
from runstate.cli.output import emit_json


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--name", help="Job name (default: the script's name).")
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter (JSON values parse)."
)
@click.option(
    "--seed", type=int, help="Seed random, NumPy and PyTorch; sets PYTHONHASHSEED if unset."
)
@click.option(
    "--input", "inputs", multiple=True, metavar="PATH", help="Declare an input file or folder."
)
@click.option(
    "--output", "outputs", multiple=True, metavar="PATH", help="Declare an output file or folder."
)
@click.option(
    "--config", "config_files", multiple=True, metavar="PATH", help="A config file the run uses."
)
@click.option(
    "--retention",
    type=click.Choice(["full", "fingerprint"]),
    default="full",
    show_default=True,
    help="Store input/output bytes (full) or only fingerprints.",
)
@click.option(
    "--principal", help="Who reads, for the access policy (default: $RUNSTATE_PRINCIPAL)."
)
@click.option("--purpose", help="Why it reads, for the access policy (default: $RUNSTATE_PURPOSE).")
@click.option(
    "--against",
    metavar="RELEASE",
    help="Then check the run against this release (runstate check); a failed check exits 1.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the recorded run as JSON after the command."
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run_cmd(
    name: str | None,
    params: tuple[str, ...],
    seed: int | None,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    config_files: tuple[str, ...],
    retention: str,
    principal: str | None,
    purpose: str | None,
    against: str | None,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and record its execution state; exit with COMMAND's exit code.

    Python processes are watched through audit hooks (files read and written under the
    project, imported project modules, the environment); declare what other programs
    read and write with --input/--output.

    \b
    Examples:
      runstate run -- python score.py --date 2026-11-25
      runstate run --name score --param threshold=0.6 --seed 7 -- python score.py
      runstate run --input data/raw --output out/report.csv -- Rscript report.R
      runstate run --principal svc-scoring --purpose scoring -- python score.py
      runstate run --against production -- python score.py
    """
    if against is not None:  # a release that does not exist stops us before the command runs
        from runstate.monitor.engine import resolve_release
        from runstate.store.store import Store

        resolve_release(Store.open(), against)
    options = LaunchOptions(
        command=list(command),
        name=name,
        params=dict(parse_param(p) for p in params),
        seed=seed,
        inputs=inputs,
        outputs=outputs,
        config_files=config_files,
        retention=retention,
        principal=principal,
        purpose=purpose,
    )
    result = launch(options)
    record = result.record
    if as_json:
        document = {
            "schema": "runstate.run-result/v1",
            "run_id": record["id"],
            "name": record["name"],
            "status": record["status"],
            "exit_code": record["exit_code"],
            "state_id": record["state"]["id"],
            "record_id": result.record_id,
            "inputs": {i["name"]: i["fingerprint"] for i in record["inputs"]},
            "outputs": {o["name"]: o["fingerprint"] for o in record["outputs"]},
        }
        emit_json(document)
    else:
        sys.stderr.write(
            f"runstate: recorded run {record['id']} ({record['name']}, {record['status']}, "
            f"{len(record['inputs'])} inputs, {len(record['outputs'])} outputs)\n"
        )
    exit_code = result.exit_code
    if against is not None:
        exit_code = _check_against(record["id"], against, exit_code, quiet=as_json)
    from runstate.cli import main as cli_main

    cli_main.fast_exit_allowed = True  # everything is committed and durable
    sys.exit(exit_code)


def _check_against(run_id: str, against: str, exit_code: int, quiet: bool) -> int:
    """Check the recorded run, keep the result with it, print the summary on stderr."""
    from runstate.cli.cmd_check import render_check_text
    from runstate.cli.output import console
    from runstate.monitor.attached import check_and_attach, exit_status
    from runstate.store.store import Store

    result = check_and_attach(Store.open(), run_id, against)
    if not quiet:
        render_check_text(result.to_dict(), console(stderr=True))
    return exit_status(exit_code, bool(result.passed))
