"""`invoicer run --processes N`: N workers on one machine, each `invoicer run` in a process
of its own and a member of the consumer group like any replica (its own partitions, its
own connections). One Python process is bound by one core; this uses the others.

Worker i serves its probes and metrics on INVOICER_HTTP_PORT + i, each its own /metrics:
a pod declares and Prometheus scrapes every one of these ports, each process an instance
of its own (deploy/overlays/production). A stop signal is passed
on to every worker, each finishes and commits the batch in hand; when one exits by itself
the others are stopped too, so the whole is restarted as one. The exit code is the first
non-zero one of the workers, else 0.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from worker.parent_death import die_with_parent

POLL_SECONDS = 0.2


def worker_environment(index: int, http_port: int) -> dict[str, str]:
    """The environment of worker `index`: this one's, with its own HTTP port (0 stays 0:
    each picks a free one)."""
    port = http_port + index if http_port else 0
    return {**os.environ, "INVOICER_HTTP_PORT": str(port)}


WORKER_COMMAND = (sys.executable, "-m", "worker.cli", "run")


def run_processes(count: int, http_port: int, command: Sequence[str] = WORKER_COMMAND) -> int:
    """Starts `count` workers and waits until all have exited; their exit code."""
    workers = [
        subprocess.Popen(
            command,
            env=worker_environment(index, http_port),
            stdin=subprocess.DEVNULL,
            # killed with the supervisor, so that none is left behind consuming (a preexec_fn
            # is safe here: no thread runs yet)
            preexec_fn=functools.partial(die_with_parent, signal.SIGKILL),
        )
        for index in range(count)
    ]
    told: set[int] = set()

    def pass_on(signum: int, _: FrameType | None) -> None:
        """Each worker is told to stop once: a worker that is finishing has already put its
        signal handlers away, and a second signal would kill it."""
        for worker in workers:
            if worker.poll() is None and worker.pid not in told:
                told.add(worker.pid)
                worker.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, pass_on)
    exit_codes: list[int] = []
    running = list(workers)
    while running:
        for worker in [worker for worker in running if worker.poll() is not None]:
            running.remove(worker)
            exit_codes.append(_exit_code(worker.returncode))
            pass_on(signal.SIGTERM, None)  # one has stopped: so do the others
        time.sleep(POLL_SECONDS)
    return next((code for code in exit_codes if code), 0)


def _exit_code(returncode: int) -> int:
    """A worker killed by a signal exits as a shell reports it: 128 + the signal."""
    return 128 - returncode if returncode < 0 else returncode
