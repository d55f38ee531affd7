"""`invoicer run --processes N` (worker/processes.py): a stop signal reaches each worker
once, and the exit code is theirs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_PORT = 40_000

# A worker as the supervisor sees it: ready once its handler is set; told to stop, it puts
# its handler away (as a worker does when its event loop closes) and finishes: worker 0 at
# once, worker 1 a moment later, while its sibling's exit is noticed.
WORKER = """
import os, signal, sys, time
from pathlib import Path
index = int(os.environ["INVOICER_HTTP_PORT"]) - {base}
told = []
signal.signal(signal.SIGTERM, lambda *_: told.append(1))
Path({ready!r}, str(index)).touch()
while not told:
    time.sleep(0.01)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
time.sleep(0 if index == 0 else 1.5)
sys.exit(0)
"""

SUPERVISOR = """
import sys
from worker.processes import run_processes
sys.exit(run_processes(2, {base}, [sys.executable, "-c", {worker!r}]))
"""


def test_a_stop_signal_reaches_each_worker_once_and_all_exit_cleanly(tmp_path: Path) -> None:
    worker = WORKER.format(base=BASE_PORT, ready=str(tmp_path))
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR.format(base=BASE_PORT, worker=worker)]
    )
    deadline = time.monotonic() + 30
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1"]

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(30) == 0
