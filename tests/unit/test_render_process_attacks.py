"""The render process under attack: many calls queued behind a busy process, an exception
that can be neither pickled nor repr'd, a worker killed while a rendering hangs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slow_rendering import sleep_then_echo
from worker.render_process import PipedProcess


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
