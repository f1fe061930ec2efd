"""A throwaway PostgreSQL server for the test session, independent of any system cluster.

It runs from the Debian `postgresql` package's binaries on a temp data dir, a free loopback
port and a unix socket in that temp dir, so neither port 5432 nor the Debian cluster matter.
``halt`` and ``resume`` stop the server and start it again on the same port and data dir,
as a database outage would.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from runtime.embedded import free_loopback_port


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server would not start."""


def find_pg_bindir() -> Path:
    """The newest /usr/lib/postgresql/<ver>/bin (Debian keeps initdb off PATH), else PATH."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").is_file()),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
    )
    if versions:
        return versions[-1]
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; "
        "`make test` installs the Debian package postgresql (apt-get install postgresql)"
    )


class ThrowawayPostgres:
    """initdb + pg_ctl start in a temp dir; `url` is a SQLAlchemy URL for psycopg 3."""

    def __init__(
        self, *, dbname: str = "referrals_test", user: str = "referrals", os_user: str = "postgres"
    ) -> None:
        self.dbname = dbname
        self.user = user
        # initdb and postgres refuse to run as root; as root we run them as this account
        self.os_user = os_user
        self._workdir: Path | None = None
        self._port: int | None = None
        self._bindir: Path | None = None
        self._options = ""

    @property
    def url(self) -> str:
        if self._port is None:
            raise PostgresUnavailable("ThrowawayPostgres is not running; call start() first")
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self._port}/{self.dbname}"

    @property
    def data_dir(self) -> Path | None:
        return self._workdir / "data" if self._workdir is not None else None

    def _run(self, tool: str, *args: str) -> None:
        assert self._bindir is not None and self._workdir is not None
        cmd = [str(self._bindir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        # cwd: the unprivileged user may not be allowed into the caller's working directory
        out = subprocess.run(
            cmd, cwd=self._workdir, capture_output=True, text=True, check=False, timeout=120
        )
        if out.returncode != 0:
            tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-10:])
            raise PostgresUnavailable(f"{tool} failed ({out.returncode}):\n{tail}")

    def start(self) -> ThrowawayPostgres:
        if self._port is not None:
            return self
        self._bindir = find_pg_bindir()
        self._workdir = Path(tempfile.mkdtemp(prefix="referrals-pg-"))
        atexit.register(self.stop)
        try:
            if os.geteuid() == 0:
                try:
                    account = pwd.getpwnam(self.os_user)
                except KeyError:
                    raise PostgresUnavailable(
                        f"running as root needs an unprivileged user {self.os_user!r} for "
                        "PostgreSQL; the Debian package postgresql creates it"
                    ) from None
                os.chown(self._workdir, account.pw_uid, account.pw_gid)
            data, sock = str(self._workdir / "data"), str(self._workdir)
            # --no-sync and the options below: a test database need not survive a power cut
            self._run(
                "initdb", "-D", data, "-U", self.user, "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            )  # fmt: skip
            port = free_loopback_port()
            opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
            opts += " -c synchronous_commit=off -c full_page_writes=off"
            self._options = opts
            self._port = port
            self._pg_ctl_start()
            self._create_database()
        except BaseException:
            self.stop(keep_files=True)
            raise
        return self

    def _pg_ctl_start(self) -> None:
        assert self._workdir is not None
        data, log = str(self._workdir / "data"), str(self._workdir / "postgres.log")
        self._run("pg_ctl", "-D", data, "-l", log, "-o", self._options, "-w", "-t", "60", "start")

    def halt(self) -> None:
        """Stop the server as an operator would (fast shutdown: open sessions are ended,
        their transactions rolled back), keeping its data dir and port."""
        if self._port is None or self._workdir is None:
            raise PostgresUnavailable("ThrowawayPostgres is not running; nothing to halt")
        self._run("pg_ctl", "-D", str(self._workdir / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the halted server again, same port, same data."""
        if self._port is None:
            raise PostgresUnavailable("resume() needs a server that was started and halted")
        self._pg_ctl_start()

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        admin = f"host=127.0.0.1 port={self._port} user={self.user} dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))

    def stop(self, *, keep_files: bool = False) -> None:
        atexit.unregister(self.stop)
        if self._workdir is not None and (self._workdir / "data" / "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable):  # not running after all
                self._run("pg_ctl", "-D", str(self._workdir / "data"), "-m", "immediate", "stop")
        self._port = None
        if self._workdir is not None and not keep_files:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
