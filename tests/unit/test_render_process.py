"""The renderer's process: replaced when it died since it last rendered, when it dies
rendering, or when a rendering outlasts its time, without stopping another loop's process,
leaving a zombie, or holding the event loop when the worker stops; answers of any length,
and exceptions that cannot travel as themselves, come back through its pipe."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import uvloop

from tests.slow_rendering import fail_with, repeat, sleep_then_echo
from worker import render_jobs as renderer
from worker.render_jobs import RenderProcess, RenderProcessLost
from worker.render_process import PIPE_BYTES, RemoteError, RemoteTraceback


@pytest.fixture(autouse=True)
def _sleeping_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(renderer, "render_documents", sleep_then_echo)


async def render(process: RenderProcess, name: str, seconds: float) -> Any:
    return await process.render(name, str(seconds), "en")  # type: ignore[arg-type]


def kill(process: RenderProcess) -> None:
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)  # as the kernel's OOM killer would


async def fails_and_renders_on(
    name: str, kind: str, expected: type[BaseException], match: str
) -> BaseException:
    """Renders `name` failing as `kind` (tests.slow_rendering.fail_with), expecting
    `expected`; then the same process renders the next one. What was raised."""
    with RenderProcess(30) as process, pytest.MonkeyPatch.context() as patch:
        patch.setattr(renderer, "render_documents", fail_with)
        with pytest.raises(expected, match=match) as raised:
            await process.render(name, kind, "en")  # type: ignore[arg-type]
        started = process.pid

        patch.setattr(renderer, "render_documents", sleep_then_echo)
        assert await render(process, "next", 0) == "next"
        assert process.pid == started  # the same process renders on
    return raised.value


def zombies() -> list[str]:
    """This process's children that died and were never waited for."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            found.append(stat.parent.name)
    return found


async def test_a_process_that_died_since_it_last_rendered_is_replaced_before_the_next() -> None:
    with RenderProcess(30) as process:
        assert await render(process, "first", 0) == "first"
        killed = process.pid
        kill(process)
        await asyncio.sleep(1)  # the event loop notices that its process is gone
        assert zombies() == []

        assert [await render(process, f"after-{i}", 0) for i in range(3)] == [
            "after-0",
            "after-1",
            "after-2",
        ]
        assert process.pid != killed


async def test_a_process_killed_just_before_a_rendering_is_sent_is_replaced_for_it() -> None:
    with RenderProcess(30) as process:
        assert await render(process, "first", 0) == "first"
        kill(process)
        time.sleep(0.5)  # noqa: ASYNC251 (dead, its pipes closed, the event loop held: not noticed yet)

        assert await render(process, "second", 0) == "second"


async def test_a_process_that_dies_rendering_fails_that_rendering_and_is_replaced() -> None:
    with RenderProcess(30) as process:
        assert await render(process, "warm", 0) == "warm"
        rendering = asyncio.create_task(render(process, "killed", 5))
        await asyncio.sleep(0.5)
        kill(process)
        with pytest.raises(RenderProcessLost):
            await rendering

        assert await render(process, "next", 0) == "next"


async def test_a_timeout_stops_only_its_own_process_and_leaves_no_zombie() -> None:
    # the timeout counts the process's start too: a few seconds on a busy machine
    with RenderProcess(6.0) as hanging, RenderProcess(30) as other:
        stuck = asyncio.create_task(render(hanging, "stuck", 60))
        innocent = asyncio.create_task(render(other, "innocent", 2))
        results = await asyncio.gather(stuck, innocent, return_exceptions=True)
        assert await render(hanging, "again", 0) == "again"
    await asyncio.sleep(0.5)

    assert isinstance(results[0], TimeoutError)
    assert results[1] == "innocent"
    assert zombies() == []


async def test_stopping_with_a_rendering_in_flight_does_not_wait_for_it() -> None:
    process = RenderProcess(300)
    rendering = asyncio.create_task(render(process, "long", 30))
    await asyncio.sleep(1)
    rendering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await rendering

    started = time.monotonic()
    process.__exit__(None, None, None)
    assert time.monotonic() - started < 1


async def test_an_answer_larger_than_the_pipe_comes_back_whole() -> None:
    with RenderProcess(30) as process, pytest.MonkeyPatch.context() as patch:
        patch.setattr(renderer, "render_documents", repeat)
        answers = [await render(process, "0123456789", times) for times in (1, 500_000, 2)]

    assert answers == ["0123456789", "0123456789" * 500_000, "0123456789" * 2]
    assert len(answers[1]) > 4 * PIPE_BYTES


async def test_renderings_sent_faster_than_the_process_reads_them_are_all_answered() -> None:
    names = [f"{i:02}" * 20_000 for i in range(12)]  # 40 kB a call: more than the pipe holds
    with RenderProcess(60) as process, pytest.MonkeyPatch.context() as patch:
        patch.setattr(renderer, "render_documents", repeat)
        answers = await asyncio.gather(*(render(process, name, 1) for name in names))

    assert answers == names


async def test_the_renderings_own_exception_comes_back_with_its_traceback() -> None:
    raised = await fails_and_renders_on("no glyph", "value", ValueError, "no glyph")
    assert isinstance(raised.__cause__, RemoteTraceback)
    assert "fail_with" in str(raised.__cause__)


async def test_a_timeout_the_rendering_raises_itself_does_not_replace_the_process() -> None:
    await fails_and_renders_on("the font server", "timeout", TimeoutError, "the font server")


@pytest.mark.parametrize("kind", ["unpicklable", "unreadable", "exit"])
async def test_an_exception_that_cannot_come_back_as_itself_comes_back_as_its_repr(
    kind: str,
) -> None:
    await fails_and_renders_on(
        "no glyph", kind, RemoteError, r"no glyph|SystemExit\(3\)|could not be read"
    )


async def test_a_cancelled_renderings_answer_is_not_taken_for_the_next() -> None:
    with RenderProcess(30) as process:
        assert await render(process, "warm", 0) == "warm"
        cancelled = asyncio.create_task(render(process, "cancelled", 1))
        await asyncio.sleep(0.2)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled

        assert await render(process, "next", 0) == "next"


async def test_a_rendering_never_holds_the_event_loop() -> None:
    with RenderProcess(30) as process:
        assert await render(process, "warm", 0) == "warm"
        rendering = asyncio.create_task(render(process, "long", 2))
        gaps = []
        while not rendering.done():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - before)
        assert await rendering == "long"

    assert len(gaps) > 20
    assert max(gaps) < 0.5


async def test_a_rendering_that_times_out_leaves_no_zombie_and_no_pipe_open() -> None:
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    with RenderProcess(6.0) as process:  # time for the process to start on a busy machine
        assert await render(process, "warm", 0) == "warm"
        running = descriptors()
        with pytest.raises(TimeoutError):
            await render(process, "stuck", 60)
        await asyncio.sleep(0.5)
        assert zombies() == []
        gone = descriptors()
        assert gone < running  # its pipes' ends and its sentinel's
        assert await render(process, "again", 0) == "again"
        assert descriptors() == running
    await asyncio.sleep(0.5)

    assert zombies() == []
    assert descriptors() == gone


def test_under_uvloop_as_the_worker_runs_it() -> None:
    async def scenario() -> tuple[Any, ...]:
        with RenderProcess(6.0) as process:  # time for the process to start on a busy machine
            first = await render(process, "first", 0)
            kill(process)
            await asyncio.sleep(1)
            assert zombies() == []
            again = await render(process, "again", 0)
            with pytest.raises(TimeoutError):
                await render(process, "stuck", 60)
            after = await render(process, "after", 0)
        await asyncio.sleep(0.5)
        return first, again, after

    assert uvloop.run(scenario()) == ("first", "again", "after")
    assert zombies() == []


ORPHANED = """
import asyncio, os, signal
from tests.slow_rendering import sleep_then_echo
from worker import render_jobs

render_jobs.render_documents = sleep_then_echo

async def main() -> None:
    process = render_jobs.RenderProcess(60)
    assert await process.render("warm", "0", "en") == "warm"
    print(process.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no __exit__: as the OOM killer would end a worker

asyncio.run(main())
"""


def test_a_render_process_ends_when_its_worker_dies() -> None:
    worker = subprocess.run(
        [sys.executable, "-c", ORPHANED],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    orphan = int(worker.stdout.split()[0])

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(orphan):
        time.sleep(0.1)
    assert not _running(orphan)


def _running(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"
