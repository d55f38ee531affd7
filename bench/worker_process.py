"""The worker under test, as an operator runs it: `invoicer migrate`, then `invoicer run`,
configured by INVOICER_* variables, in a process of its own, so that its memory and CPU
can be read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from worker.local_services import free_port
from worker.settings import Settings

READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 60.0
RSS_SAMPLE_SECONDS = 0.1
MIB = 1024 * 1024


def invoicer_command() -> list[str]:
    """The `invoicer` console script of this environment (or the module, if not installed)."""
    script = Path(sys.executable).with_name("invoicer")
    if script.exists():
        return [str(script)]
    found = shutil.which("invoicer")
    return [found] if found else [sys.executable, "-m", "worker.cli"]


SELLER = {
    "NAME": "Bakkerij de Molen B.V.",
    "VAT_ID": "NL123456789B01",
    "ADDRESS_LINE1": "Molenstraat 1",
    "CITY": "Utrecht",
    "POSTAL_CODE": "3511 AA",
    "COUNTRY": "NL",
    "IBAN": "NL91ABNA0417164300",
    "BIC": "ABNANL2A",
}
"""INVOICER_SELLER_*: a complete seller, so closed invoices get their documents."""


def worker_environment(
    settings: Settings,
    http_port: int,
    batch_max_records: int,
    documents: bool = False,
    renderer_processes: int | None = None,
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("INVOICER_")}
    env.update(
        {
            "INVOICER_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "INVOICER_DATABASE_URL": settings.database_url,
            "INVOICER_GROUP_ID": settings.group_id,
            "INVOICER_HTTP_PORT": str(http_port),
            "INVOICER_BATCH_MAX_RECORDS": str(batch_max_records),
        }
    )
    for name, topic in settings.topics.model_dump().items():
        env[f"INVOICER_TOPIC_{name.upper()}"] = topic
    if documents:
        env.update({f"INVOICER_SELLER_{name}": value for name, value in SELLER.items()})
    if renderer_processes is not None:
        env["INVOICER_RENDERER_PROCESSES"] = str(renderer_processes)
    return env


def migrate_database(settings: Settings) -> None:
    """`invoicer migrate`, as an operator runs it before the worker."""
    subprocess.run(
        [*invoicer_command(), "migrate"],
        env=worker_environment(settings, 0, 1),
        check=True,
        capture_output=True,
        timeout=120,
    )


def peak_rss_bytes(pid: int) -> int | None:
    """The process's peak resident set (VmHWM), where /proc tells it."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since it started."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass(slots=True)
class CpuMeter:
    """CPU seconds of a process and its children (a PostgreSQL server's backends) over a
    window: start() and stop() snapshot them, children that come and go count as found."""

    pid: int | None
    children: bool = True
    """False: the process alone (the benchmark's own children are the services)."""
    _start: dict[int, float] = field(default_factory=dict)
    _stop: dict[int, float] = field(default_factory=dict)

    def _snapshot(self) -> dict[int, float]:
        if self.pid is None:
            return {}
        taken: dict[int, float] = {}
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.pid)
            family = root.children(recursive=True) if self.children else []
            for process in [root, *family]:
                with contextlib.suppress(psutil.Error):
                    taken[process.pid] = _cpu_seconds(process)
        return taken

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self) -> None:
        self._stop = self._snapshot()

    @property
    def seconds(self) -> float | None:
        if self.pid is None:
            return None
        return sum(self.by_process().values())

    def by_process(self) -> dict[int, float]:
        """CPU seconds of each process over the window."""
        return {pid: max(0.0, used - self._start.get(pid, 0.0)) for pid, used in self._stop.items()}


@dataclass(slots=True)
class WorkerProcess:
    """`invoicer run` in a child process; its RSS is sampled while it runs."""

    settings: Settings
    batch_max_records: int
    processes: int = 1
    """`invoicer run --processes N`: worker i serves HTTP on http_port + i."""
    documents: bool = False
    """A seller configured: closed invoices are rendered (PDF, UBL) by the render pool."""
    renderer_processes: int | None = None
    """INVOICER_RENDERER_PROCESSES; the worker's default when None."""
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    sampled_peak_rss: int = 0
    _family: set[int] = field(default_factory=set)
    """Its processes seen so far: the workers, their render processes."""
    _sampler: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, log_dir: Path) -> None:
        self.log_path = log_dir / f"{self.settings.group_id}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*invoicer_command(), "run", "--processes", str(self.processes)],
                env=worker_environment(
                    self.settings,
                    self.http_port,
                    self.batch_max_records,
                    self.documents,
                    self.renderer_processes,
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._sampler = asyncio.create_task(self._sample_rss())

    def worker_pids(self) -> list[int]:
        """The processes that run a worker: this one, or those it supervises."""
        if self.processes == 1:
            return [self.pid]
        with contextlib.suppress(psutil.Error):
            return [child.pid for child in psutil.Process(self.pid).children()]
        return []

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the worker exited with code {self.process.returncode}; its log: {self.log_path}"
            )

    async def wait_ready(self) -> None:
        """Until /readyz answers 200: database and broker reachable, partitions assigned."""
        url = f"http://127.0.0.1:{self.http_port}/readyz"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                self.check_alive()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise TimeoutError(f"the worker was not ready within {READY_TIMEOUT_SECONDS:.0f} s")

    async def _sample_rss(self) -> None:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(self.pid)
            while True:
                for member in [process, *process.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        self._family.add(member.pid)
                        rss = member.memory_info().rss
                        self.sampled_peak_rss = max(self.sampled_peak_rss, rss)
                await asyncio.sleep(RSS_SAMPLE_SECONDS)

    def peak_rss_mib(self) -> float:
        """The largest peak RSS of one of its processes so far: the kernel's high-water
        marks of those still running, else the highest sample."""
        peaks = [peak_rss_bytes(pid) or 0 for pid in {self.pid, *self._family}]
        return max([*peaks, self.sampled_peak_rss]) / MIB

    async def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def log_directory(keep: Path | None) -> Iterator[Path]:
    """Where the workers' logs go: `keep`, or a temporary directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="invoicer-bench-") as directory:
        yield Path(directory)
