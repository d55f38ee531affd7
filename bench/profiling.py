"""Sampling the worker with py-spy while a scenario runs, and what the samples say.

py-spy attaches to the running worker (it needs ptrace rights: root, or
kernel.yama.ptrace_scope=0) and writes collapsed stacks, one `frame;frame;... count` line
per distinct stack. Idle time (waiting in the event loop's select) is not sampled, so the
shares are of the worker's busy CPU time.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 100
STOP_TIMEOUT_SECONDS = 30.0
_LINE_NUMBER = re.compile(r":\d+\)$")


@dataclass(slots=True)
class Profiler:
    """py-spy recording one process into `output` (collapsed stacks)."""

    output: Path
    process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str | None:
        """py-spy of this environment, else the one on the PATH."""
        beside = Path(sys.executable).with_name("py-spy")
        return str(beside) if beside.exists() else shutil.which("py-spy")

    @staticmethod
    def available() -> bool:
        return Profiler.executable() is not None

    def start(self, pid: int) -> None:
        py_spy = self.executable()
        if py_spy is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self.process = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(SAMPLE_RATE),
                "--format",
                "raw",
                "--function",
                "--subprocesses",  # the workers of `invoicer run --processes N`
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Ends the recording; py-spy writes its file on SIGINT."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _frame_name(frame: str) -> str:
    """`function (path/to/module.py:12)` without the line number and the path's prefix."""
    frame = _LINE_NUMBER.sub(")", frame)
    for marker in ("site-packages/", "/worker/", "/bench/", "/lib/python3"):
        head, found, tail = frame.partition(marker)
        if found:
            name = head.split(" (")[0]
            prefix = marker.strip("/") + "/" if marker in ("/worker/", "/bench/") else ""
            return f"{name} ({prefix}{tail}"
    return frame


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    samples: int
    self_share: list[tuple[str, float]]
    """Functions by the share of samples in which they were the running frame."""
    total_share: list[tuple[str, float]]
    """Functions by the share of samples in which they were on the stack."""

    def render(self, top: int = 25) -> str:
        lines = [f"{self.samples} samples (busy CPU only)", "", "self %   function"]
        lines += [f"{share:6.1%}  {name}" for name, share in self.self_share[:top]]
        lines += ["", "total %  function (on the stack)"]
        lines += [f"{share:6.1%}  {name}" for name, share in self.total_share[:top]]
        return "\n".join(lines)


def summarize(collapsed: Path) -> ProfileSummary:
    """Self and inclusive shares per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # The first frames are the process and thread; the rest are Python frames.
        frames = [
            _frame_name(frame)
            for frame in stack.split(";")
            if not frame.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if samples == 0:
        return ProfileSummary(0, [], [])
    return ProfileSummary(
        samples,
        [(name, count / samples) for name, count in own.most_common()],
        [(name, count / samples) for name, count in inclusive.most_common()],
    )
