"""Bad input through the real CLI: one clear line on stderr, exit 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import runstate
from conftest import runstate_cli


def _one_line_error(result, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


@pytest.fixture
def with_run(project: Path) -> Path:
    with runstate.run("job"):
        pass
    return project


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["show", "ffffffff"], "no run matches 'ffffffff'"),
        (["show", "ab"], "is not a run id"),
        (["show", "nosuchalias"], "not a run id, a release"),
        (["show", "job@v3"], "no release job@v3"),
        (["show", "latest~5"], "there are not 6 runs"),
        (["release", "create", "scoring", "--run", "ffffffff"], "no run matches"),
        (["release", "create", "bad name!", "--run", "latest"], "release name 'bad name!'"),
        (["release", "show", "scoring"], "expected NAME@vN"),
        (["release", "show", "scoring@v1"], "no release scoring@v1"),
        (["alias", "set", "production", "scoring@v9"], "no release scoring@v9"),
        (
            ["release", "create", "scoring", "--run", "latest", "--sign", "missing.pem"],
            "missing.pem",
        ),
        (["key", "add", "missing.pub"], "missing.pub"),
        (["init"], "already holds a runstate store"),
        (["runs", "--limit", "0"], "--limit"),
    ],
)
def test_bad_references_and_arguments(with_run: Path, args: list[str], needle: str) -> None:
    _one_line_error(runstate_cli(*args, cwd=with_run), needle)


def test_no_store_anywhere(tmp_path: Path) -> None:
    for args in (["runs"], ["show", "latest"], ["verify"], ["gc"]):
        _one_line_error(runstate_cli(*args, cwd=tmp_path), "runstate init")
    _one_line_error(
        runstate_cli("runs", cwd=tmp_path, env={"RUNSTATE_STORE": str(tmp_path / "x")}),
        "RUNSTATE_STORE",
    )


def test_store_found_by_walking_up_and_through_runstate_store(with_run: Path) -> None:
    nested = with_run / "a" / "b"
    nested.mkdir(parents=True)
    assert '"runs"' in runstate_cli("runs", "--json", cwd=nested).stdout
    elsewhere = with_run.parent / "elsewhere"
    elsewhere.mkdir()
    result = runstate_cli("runs", "--json", cwd=elsewhere, env={"RUNSTATE_STORE": str(with_run)})
    assert result.returncode == 0 and '"name": "job"' in result.stdout


def test_truncated_database_is_reported_as_corrupt(with_run: Path) -> None:
    db = with_run / ".runstate" / "runstate.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(db.read_bytes()[:100])
    _one_line_error(runstate_cli("runs", cwd=with_run), "metadata database")


def test_missing_database_and_config(with_run: Path) -> None:
    store_dir = with_run / ".runstate"
    (store_dir / "runstate.db").unlink()
    _one_line_error(runstate_cli("runs", cwd=with_run), "runstate.db is missing")
    (store_dir / "config.json").write_text("{not json")
    _one_line_error(runstate_cli("runs", cwd=with_run), "unreadable store config")
    (store_dir / "config.json").unlink()
    _one_line_error(runstate_cli("runs", cwd=with_run), "config.json is missing")


def test_unreadable_input_names_the_file(project: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    secret = project / "secret.csv"
    secret.write_text("x")
    secret.chmod(0)
    _one_line_error(
        runstate_cli("run", "--input", "secret.csv", "--", "true", cwd=project), "secret.csv"
    )


def test_every_command_has_an_example_in_its_help(project: Path) -> None:
    from runstate.cli.main import _COMMANDS

    groups = {
        "release": ["create", "list", "show"],
        "alias": ["set", "list"],
        "key": ["generate", "add", "list"],
    }
    for command in _COMMANDS:
        for sub in groups.get(command, [None]):
            args = [command, sub, "--help"] if sub else [command, "--help"]
            result = runstate_cli(*args, cwd=project)
            assert result.returncode == 0, (args, result.stderr)
            assert "Example" in result.stdout, args
            assert "--json" in result.stdout, args
