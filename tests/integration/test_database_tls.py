"""PostgreSQL over TLS, for real, configured the way docs/operations.md says: through the
URL (`?sslmode=verify-full&sslrootcert=/path/ca.pem`). The server is this test's own,
Debian's (installed here if missing; the embedded one is built without OpenSSL), with
`ssl=on`, a CA and a server certificate made on the spot, and a pg_hba.conf that accepts
`hostssl` connections only: whatever connects at all is encrypted. The worker's own code
paths connect to it (the migration, the pool, the single connection of the relay, the
start-up check, `invoicer migrate`); a CA that did not sign the server's certificate and
a plaintext connection are refused."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.certificates import certificates
from tests.faults.processes import environment_without_invoicer, invoicer_command
from worker.local_services import POSTGRES_SYSTEM_USER, LocalPostgres
from worker.startup import check_database
from worker.store.migrate import migrate
from worker.store.pool import connect, create_pool

pytestmark = pytest.mark.integration

INSTALL_TIMEOUT_SECONDS = 300
CLI_SECONDS = 60.0
PASSWORD = "s3cret"


@dataclass(frozen=True)
class TlsPostgres:
    port: int
    ca_file: Path
    """The CA that signed the server's certificate."""
    other_ca_file: Path
    """A CA that did not."""

    def url(self, query: str, *, password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/postgres?{query}"

    def verified(self, ca_file: Path | None = None, *, password: str = "") -> str:
        """The URL docs/operations.md gives: the server's name and certificate checked."""
        return self.url(
            f"sslmode=verify-full&sslrootcert={ca_file or self.ca_file}", password=password
        )


def _postgres_bin() -> Path:
    """Debian's PostgreSQL server binaries (the newest installed); installed when missing."""
    found = _installed_postgres_bins()
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        pytest.skip("PostgreSQL's server is not installed and there is no apt-get to install it")
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode != 0:
            pytest.skip(f"cannot install postgresql ({' '.join(command)}): {done.stderr[-300:]}")
    found = _installed_postgres_bins()
    assert found, "postgresql installed but no /usr/lib/postgresql/*/bin/postgres"
    return found[-1]


def _installed_postgres_bins() -> list[Path]:
    bins = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    return sorted(bins, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPostgres]:
    """Debian's PostgreSQL with TLS on, reachable through TLS only, stopped (fast
    shutdown) and its directory removed at the end."""
    clients = tmp_path_factory.mktemp("pg-tls-clients")
    elsewhere = clients / "elsewhere"
    elsewhere.mkdir()
    other_ca_file, _, _ = certificates(elsewhere)
    tls = Path(tempfile.mkdtemp(prefix="invoicer-pg-tls-"))
    ca_file, cert_file, key_file = certificates(tls)
    shutil.copy(ca_file, clients / "ca.pem")
    server = LocalPostgres(
        bin_path=_postgres_bin(),
        settings={"ssl": "on", "ssl_cert_file": str(cert_file), "ssl_key_file": str(key_file)},
    )
    try:
        server.prepare()
        # The key is the server's alone: owned by its account (as root), readable by no other.
        key_file.chmod(0o600)
        if os.geteuid() == 0:
            account = pwd.getpwnam(POSTGRES_SYSTEM_USER)
            for path in (tls, *tls.iterdir()):
                os.chown(path, account.pw_uid, account.pw_gid)
        # TLS only: a plaintext connection finds no line that accepts it.
        (server.data_dir / "pg_hba.conf").write_text(
            "hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n"
        )
        server.start()
        yield TlsPostgres(server.port, clients / "ca.pem", other_ca_file)
    finally:
        server.close()
        shutil.rmtree(tls, ignore_errors=True)


async def test_the_worker_migrates_and_pools_over_a_verified_tls_session(
    tls_postgres: TlsPostgres,
) -> None:
    url = tls_postgres.verified()
    await check_database(url, wait_if_down=False)  # `invoicer run`'s and `migrate`'s check
    await migrate(url)
    pool = await create_pool(url)
    try:
        encrypted = await pool.fetchrow(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        migrated = await pool.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await pool.close()
    assert encrypted is not None and encrypted["ssl"] is True, encrypted
    assert encrypted["version"].startswith("TLSv1."), encrypted
    assert migrated > 0
    # The relay's own connection (worker/relay.py) and the migration's go the same way.
    connection = await connect(url)
    try:
        assert await connection.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await connection.close()


async def test_a_ca_that_did_not_sign_the_servers_certificate_is_refused(
    tls_postgres: TlsPostgres,
) -> None:
    url = tls_postgres.verified(tls_postgres.other_ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        await migrate(url)
    pool = await create_pool(url)  # opens no connection until one is needed
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await pool.fetchval("SELECT 1")
    finally:
        await pool.close()


async def test_a_plaintext_connection_is_refused_by_the_server(
    tls_postgres: TlsPostgres,
) -> None:
    url = tls_postgres.url("sslmode=disable")
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError) as refused:
        await migrate(url)
    assert "no encryption" in str(refused.value)
    pool = await create_pool(url)
    try:
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await pool.fetchval("SELECT 1")
    finally:
        await pool.close()


async def invoicer_migrate(url: str) -> subprocess.CompletedProcess[str]:
    """`invoicer migrate` as an operator runs it, with INVOICER_DATABASE_URL set to `url`."""
    return await asyncio.to_thread(
        subprocess.run,
        [*invoicer_command(), "migrate"],
        env={
            **environment_without_invoicer(),
            "INVOICER_DATABASE_URL": url,
            "INVOICER_LOG_LEVEL": "DEBUG",
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
    )


async def test_invoicer_migrate_connects_through_the_url_and_shows_no_password(
    tls_postgres: TlsPostgres,
) -> None:
    """The operator's path: INVOICER_DATABASE_URL with a password (trust ignores it) and
    the TLS parameters; the server accepts TLS only, so success is a verified TLS session."""
    done = await invoicer_migrate(tls_postgres.verified(password=PASSWORD))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "migration(s) applied" in done.stdout, output
    assert PASSWORD not in output


async def test_invoicer_migrate_refused_by_an_untrusted_server_says_so_without_the_password(
    tls_postgres: TlsPostgres,
) -> None:
    done = await invoicer_migrate(
        tls_postgres.verified(tls_postgres.other_ca_file, password=PASSWORD)
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    [line] = done.stderr.splitlines()
    assert line.startswith("invoicer: cannot connect to the database"), line
    assert "certificate verify failed" in line, line
    assert PASSWORD not in output
