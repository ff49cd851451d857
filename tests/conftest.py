"""Shared fixtures: a real PostgreSQL server, fresh stores and project folders.

The PostgreSQL server is started once per test session from the PostgreSQL binaries on the
machine (``initdb``/``pg_ctl``), as a non-root user (PostgreSQL refuses to run as root), on
a temporary data folder and a free loopback port. ``RUNSTATE_TEST_PG_URL`` points the
tests at an existing server instead. Where no server can be had, PostgreSQL tests are
skipped — except under CI (``CI`` set), where that is an error, so a missing database can
never turn the conformance suite green by skipping it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import browser_page, chromium  # noqa: F401 (fixtures for every module)
from runstate.store.store import Store

REPO = Path(__file__).resolve().parent.parent
PG_USER = "runstate-test"


def _pg_bindir() -> str | None:
    """The newest PostgreSQL server's bin folder (Debian layout), else initdb on PATH."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found.sort(key=lambda path: int(path.split("/")[-3]) if path.split("/")[-3].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as; None when we are not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", PG_USER):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", PG_USER], check=True, capture_output=True
    )
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


class PostgresServer:
    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb) found")
        self.bindir = bindir
        self.tmp = tempfile.mkdtemp(prefix="runstate-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.port = _free_port()
        self.user = _server_user()
        os.chmod(self.tmp, 0o755)
        if self.user is not None:
            os.chown(self.tmp, *self.user)
        self._run(
            ["initdb", "-D", self.data, "-U", "runstate", "--auth=trust", "-E", "UTF8", "--no-sync"]
        )
        options = (
            f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=200"
        )
        self._run(
            [
                "pg_ctl",
                "-D",
                self.data,
                "-o",
                options,
                "-l",
                os.path.join(self.tmp, "log"),
                "-w",
                "start",
            ]
        )
        self.base_url = f"postgresql+psycopg://runstate@127.0.0.1:{self.port}"

    def _run(self, argv: list[str]) -> None:
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs.update(user=self.user[0], group=self.user[1], extra_groups=[])
        result = subprocess.run(
            [os.path.join(self.bindir, argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            cwd=self.tmp,
            **kwargs,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{argv[0]} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"postgresql://runstate@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    external = os.environ.get("RUNSTATE_TEST_PG_URL")
    if external:

        class External:
            base_url = external.rsplit("/", 1)[0]

            def new_database(self) -> str:
                import psycopg

                name = f"t_{uuid.uuid4().hex[:12]}"
                plain = external.replace("postgresql+psycopg://", "postgresql://")
                with psycopg.connect(plain, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                return f"{self.base_url}/{name}"

        yield External()
        return
    try:
        server = PostgresServer()
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    server = request.getfixturevalue("postgres")
    return str(server.new_database())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder with an initialised store, as the working directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("RUNSTATE_STORE", raising=False)
    for name in ("RUNSTATE_REPORT_DIR", "RUNSTATE_PARAMS", "RUNSTATE_SEED"):
        monkeypatch.delenv(name, raising=False)
    Store.init(folder)
    return folder


@pytest.fixture
def store(project: Path) -> Iterator[Store]:
    opened = Store.open(project)
    yield opened
    opened.close()


def runstate_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (``python -m runstate.cli.main``)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "runstate.cli.main", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )
