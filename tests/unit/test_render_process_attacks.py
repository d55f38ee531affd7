"""The render process under attack: many calls queued behind a busy process, an exception
that can be neither pickled nor repr'd, a worker killed while a rendering hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.slow_rendering import sleep_then_echo
from tests.unit.test_render_process import _running, fails_and_renders_on
from worker.render_process import PipedProcess, RemoteError


async def test_more_calls_queued_than_one_writev_takes_are_all_answered() -> None:
    # the first call holds the process; the pipe fills and the rest wait in the worker,
    # two buffers a call: more than IOV_MAX (1024) of them
    process = PipedProcess(asyncio.get_running_loop(), 0, "attack")
    try:
        first = process.call(sleep_then_echo, "first", "1", "en")
        names = [f"{i:04}" + "x" * 1000 for i in range(700)]
        calls = [process.call(sleep_then_echo, name, "0", "en") for name in names]
        assert await asyncio.wait_for(first, 60) == "first"
        assert await asyncio.wait_for(asyncio.gather(*calls), 60) == names
    finally:
        process.stop()


async def test_an_exception_without_pickle_or_repr_comes_back_and_keeps_the_process() -> None:
    await fails_and_renders_on("x", "unrepresentable", RemoteError, "Unrepresentable")


HUNG = """
import asyncio, os, signal
from tests.slow_rendering import sleep_then_echo
from worker import render_jobs

render_jobs.render_documents = sleep_then_echo

async def main() -> None:
    process = render_jobs.RenderProcess(600)
    assert await process.render("warm", "0", "en") == "warm"
    rendering = asyncio.ensure_future(process.render("hung", "3600", "en"))
    await asyncio.sleep(0.5)
    print(process.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, while a rendering hangs

asyncio.run(main())
"""


def test_a_render_process_hung_rendering_ends_when_its_worker_dies() -> None:
    # not subprocess.run: an orphan holding the worker's stdout would hold it up for good
    worker = subprocess.Popen(
        [sys.executable, "-c", HUNG],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    orphan = int(worker.stdout.readline())
    assert worker.wait(60) == -signal.SIGKILL
    worker.stdout.close()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(orphan):
            time.sleep(0.1)
        assert not _running(orphan)
    finally:
        if _running(orphan):
            os.kill(orphan, signal.SIGKILL)
