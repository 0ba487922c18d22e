"""Test helpers: a private PostgreSQL cluster and URI surgery.

:class:`PrivateCluster` follows recipes.md §5: ``initdb`` and ``pg_ctl`` from the newest
``/usr/lib/postgresql/*/bin`` (or ``PATH``) in a temp dir, on a free port, listening on
127.0.0.1 and a socket in the temp dir only. As root the binaries run as the ``postgres``
user (``initdb`` refuses root). Use it when a test must stop and restart a server (never the
shared one), to test password authentication, or when no server answers::

    with PrivateCluster() as cluster:
        store = PostgresStore(cluster.url())
        cluster.stop(); ...; cluster.start()
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from typing import Any

__all__ = ["PrivateCluster", "free_port", "with_database", "with_schema"]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin_dir() -> str:
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(d, "initdb"))]
    if found:
        return max(found, key=lambda d: [int(p) for p in re.findall(r"\d+", d)])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found: install PostgreSQL "
                       "(apt-get install postgresql) or point AQUARIUM_TEST_POSTGRES at a server")


class PrivateCluster:
    """A throwaway PostgreSQL server in a temp dir. ``password`` switches authentication from
    trust to scram-sha-256 (the superuser ``user`` gets that password)."""

    def __init__(self, *, user: str = "aquarium", password: str | None = None, durable: bool = False) -> None:
        self.user = user
        self.password = password
        self.durable = durable
        self.bin = _bin_dir()
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="aquarium-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._initdb()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def _initdb(self) -> None:
        args = [os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user, "-E", "UTF8",
                "--locale=C.UTF-8"]
        if self.password is None:
            args.append("--auth=trust")
        else:
            pwfile = os.path.join(self.root, "pwfile")
            with open(pwfile, "w") as file:
                file.write(self.password + "\n")
            if self._as_postgres:
                shutil.chown(pwfile, "postgres", "postgres")
            args += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        try:
            self._run(*args)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"initdb failed: {error.stderr.strip() or error.stdout.strip()}") from None

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        done = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60",
                         "-o", options, "start", check=False)
        if done.returncode != 0:
            tail = ""
            if os.path.exists(self.log):
                with open(self.log) as file:
                    tail = " | ".join(file.read().strip().splitlines()[-5:])
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip() or done.stdout.strip()} {tail}")

    def stop(self, mode: str = "fast") -> None:
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-m", mode, "stop", check=False)

    def url(self, dbname: str = "postgres", *, password: str | None = None) -> str:
        """A URI for ``dbname``; ``password`` (default: none in the URI) as given."""
        secret = f":{urllib.parse.quote(password, safe='')}" if password is not None else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{dbname}"

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivateCluster:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def with_database(url: str, dbname: str) -> str:
    """``url`` naming another database."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(dbname)))


def with_schema(url: str, schema: str) -> str:
    """``url`` whose sessions put ``schema`` first on the ``search_path`` (Aquarium's tables go there)."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
