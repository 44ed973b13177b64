"""A real PostgreSQL (Debian's postgresql-15) as a lake catalog: a throwaway cluster in a
temporary directory on a free 127.0.0.1 port, run as an unprivileged user, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    """A port free now, drawn at random below the kernel's ephemeral range and above the tests'
    fixed 25xxx-28xxx. Asking the kernel for port 0 gave two clusters started at once the same
    port (51001, the first above CI's reserved 40000-50999): the second postmaster could not bind."""
    while True:
        port = random.randrange(29000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class PostgresCluster:
    """initdb, start, stop and createdb, as the `postgres` user when the tests run as root."""

    def __init__(self) -> None:
        if not (PG_BIN / "postgres").exists():
            pytest.skip("PostgreSQL 15 is not installed (.ci/run installs postgresql)")
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        self.root = Path(tempfile.mkdtemp(prefix="logscope-pg-"))
        os.chmod(self.root, 0o755)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.data = self.root / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "logscope", "--no-sync")
        self._start_on_a_free_port()

    def _start_on_a_free_port(self, tries: int = 5) -> None:
        """Start on a free port; another port when the one chosen was taken before the postmaster
        bound it (the port stays the cluster's for later stops and starts)."""
        for attempt in range(1, tries + 1):
            self.port, logged = _free_port(), len(self.server_log())
            try:
                self.start()
                return
            except subprocess.CalledProcessError:
                # (the log is appended to: only this attempt's lines say why it failed)
                if attempt == tries or "Address already in use" not in self.server_log()[logged:]:
                    raise

    def server_log(self) -> str:
        """What the postmaster wrote (its log file, readable by the test's user)."""
        try:
            return (self.root / "log").read_text(errors="replace")
        except FileNotFoundError:  # not started yet
            return ""
        except OSError as error:
            return f"(log unreadable: {error})"

    def _run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        try:
            log = str(self.root / "log")
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        except subprocess.CalledProcessError as failure:
            failure.add_note(f"postmaster log:\n{self.server_log()[-2000:]}")
            raise

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        """A new database; its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "logscope", name)
        return f"postgresql://logscope@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def lake_url(catalog: str, data: Path) -> str:
    return f"{catalog}?data_path={data}/"
