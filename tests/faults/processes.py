"""The worker as an operator runs it: `invoicer run` in a process of its own, configured by
INVOICER_* variables, its output in files for diagnosis, /readyz polled over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from worker.local_services import free_port
from worker.parent_death import die_with_parent

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 90.0
PROBE_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.2


def invoicer_command() -> list[str]:
    """The console script installed next to this Python (the same virtualenv)."""
    script = Path(sys.executable).parent / "invoicer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "worker.cli"]


def run_invoicer(args: list[str], env: dict[str, str], log: Path) -> None:
    """A short `invoicer` command (migrate): must succeed."""
    with log.open("ab") as output:
        subprocess.run(
            [*invoicer_command(), *args],
            env=env,
            stdout=output,
            stderr=output,
            check=True,
            timeout=120,
        )


class WorkerProcess:
    """One `invoicer run`. stdout and stderr go to <log_dir>/<name>.log (appended over
    restarts, each start marked)."""

    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.args = args
        """Given to `invoicer run` (`--processes 2`)."""
        self.http_port = free_port()
        self.env = {**env, "INVOICER_HTTP_PORT": str(self.http_port)}
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **extra_env: str) -> None:
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} {extra_env or ''} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [*invoicer_command(), "run", *self.args],
                env={**self.env, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=functools.partial(die_with_parent, signal.SIGKILL),
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    async def readiness(self) -> tuple[int | None, str]:
        """(HTTP status of /readyz, its reason); None when nothing answers."""
        url = f"http://127.0.0.1:{self.http_port}/readyz"
        try:
            timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as reply:
                body = await reply.json()
                return reply.status, str(body.get("reason"))
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return None, repr(error)

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples that carry these labels, from /metrics."""
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as reply:
            text = await reply.text()
        total = 0.0
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample.split("{")[0] == name and all(label in sample for label in wanted):
                total += float(value)
        return total

    async def wait_ready(self, within: float = START_TIMEOUT_SECONDS) -> float:
        """Waits for /readyz to say ready; returns the seconds it took."""
        started = time.monotonic()
        reason = "no answer"
        while time.monotonic() - started < within:
            if not self.alive:
                raise AssertionError(
                    f"{self.name} exited with {self.returncode} while starting:\n{self.log_tail()}"
                )
            status, reason = await self.readiness()
            if status == 200:
                return time.monotonic() - started
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(
            f"{self.name} not ready within {within}s ({reason}):\n{self.log_tail()}"
        )

    async def wait_exit(self, within: float = STOP_TIMEOUT_SECONDS) -> int:
        assert self.process is not None
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not exit within {within}s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.05)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, like a machine that died."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    async def terminate(self, within: float = STOP_TIMEOUT_SECONDS) -> tuple[int, float]:
        """SIGTERM, as an orchestrator stops a pod; (exit code, seconds to exit)."""
        assert self.process is not None, f"{self.name} is not running"
        assert self.alive, f"{self.name} is not running"
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await self.wait_exit(within)
        return code, time.monotonic() - started

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def log_entries(self) -> list[dict[str, Any]]:
        """The JSON log lines, parsed; other output (start marks, tracebacks) is left out."""
        entries: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries


def stop_all(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()


def environment_without_invoicer() -> dict[str, str]:
    """This process's environment minus any INVOICER_* that would leak into the worker."""
    return {name: value for name, value in os.environ.items() if not name.startswith("INVOICER_")}
