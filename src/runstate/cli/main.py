"""The ``runstate`` command: a lazy click group, so each command imports only what it needs.

``runstate run`` must start fast (its overhead budget is 150 ms), so subcommands live in
their own modules and are imported when invoked; ``runstate --help`` imports them all.

Every error runstate raises on purpose becomes one line on stderr (``runstate: error: …``)
and the exit code the error class carries (2 for usage and input errors); stdout stays
clean for ``--json`` consumers.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from runstate import __version__
from runstate.errors import RunstateError

__all__ = ["cli", "main"]

_COMMANDS = {
    "init": "runstate.cli.cmd_store:init_cmd",
    "run": "runstate.cli.cmd_run:run_cmd",
    "runs": "runstate.cli.cmd_runs:runs_cmd",
    "show": "runstate.cli.cmd_runs:show_cmd",
    "release": "runstate.cli.cmd_release:release_group",
    "alias": "runstate.cli.cmd_release:alias_group",
    "key": "runstate.cli.cmd_release:key_group",
    "verify": "runstate.cli.cmd_store:verify_cmd",
    "gc": "runstate.cli.cmd_store:gc_cmd",
    "demo": "runstate.cli.cmd_demo:demo_cmd",
    "policy": "runstate.cli.cmd_policy:policy_group",
    "replay": "runstate.cli.cmd_replay:replay_cmd",
    "diff": "runstate.cli.cmd_diff:diff_cmd",
    "explain": "runstate.cli.cmd_explain:explain_cmd",
    "check": "runstate.cli.cmd_check:check_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runstate")
def cli() -> None:
    """Capture, compare and reproduce the execution state of every ML/AI run.

    \b
    Quick start:
      runstate init
      runstate run --name score --param threshold=0.5 -- python score.py
      runstate runs
      runstate release create scoring --run latest
      runstate diff scoring@v1 latest --html diff.html
      runstate replay scoring@v1
      runstate explain scoring@v1 latest
      runstate check latest --against scoring@v1
    """


#: Set by commands whose work is fully committed when they exit (``runstate run``): the
#: console script then skips interpreter teardown (~10 ms of the run overhead budget).
fast_exit_allowed = False


def main(argv: list[str] | None = None) -> Any:
    try:
        return _main(argv)
    except SystemExit as exc:
        if argv is None and fast_exit_allowed:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


def _main(argv: list[str] | None) -> Any:
    try:
        return cli.main(args=argv, prog_name="runstate", standalone_mode=False)
    except RunstateError as exc:
        click.echo(f"runstate: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("runstate: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # One line, like every other error: what is wrong and where to read more.
        where = exc.ctx.command_path if exc.ctx is not None else "runstate"
        click.echo(f"runstate: error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"runstate: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
