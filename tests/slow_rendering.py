"""Stand-ins for worker.documents.render.render_documents that take as long as they are told,
or fail as they are told, importable by the renderer's spawned processes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from worker.documents.render import render_documents
from worker.domain.lifecycle import Invoice

RENDER_DELAY_SECONDS = 2.0


def sleep_then_echo(name: str, seconds: str, language: str) -> str:
    """Sleeps `seconds` (passed where the reference number goes) and returns `name`."""
    time.sleep(float(seconds))
    return name


def repeat(name: str, times: str, language: str) -> str:
    """`name` `times` times over (passed where the reference number goes): a long answer."""
    return name * int(times)


class Unpicklable(Exception):
    """An exception that holds what pickle cannot carry."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class Unreadable(Exception):
    """An exception that pickles, but cannot be unpickled (its arguments are not kept)."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} {second}")


class Unrepresentable(Exception):
    """An exception that neither pickles nor has a repr (an argument's __repr__ raising)."""

    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle this")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def fail_with(name: str, kind: str, language: str) -> str:
    """Raises the exception named by `kind` (passed where the reference number goes)."""
    if kind == "unpicklable":
        raise Unpicklable(name)
    if kind == "unreadable":
        raise Unreadable(name, "twice")
    if kind == "unrepresentable":
        raise Unrepresentable(name)
    if kind == "exit":
        raise SystemExit(3)
    if kind == "timeout":
        raise TimeoutError(name)
    raise ValueError(name)


def render_slowly(invoice: Invoice, reference_number: str | None, language: str) -> Any:
    """The real rendering, RENDER_DELAY_SECONDS late: time for something to happen meanwhile."""
    time.sleep(RENDER_DELAY_SECONDS)
    return render_documents(invoice, reference_number, language)


RENDER_PLAN = "INVOICER_TEST_RENDER_PLAN"
"""The variable naming the plan file of render_as_planned (render processes inherit it)."""
FAILS = "x"
HANGS = "h"
HANG_SECONDS = 10.0
SLOW = "s"
SLOW_SECONDS = 0.6
"""Less than the renderer's HOLD_UP_SECONDS."""


def render_as_planned(invoice: Invoice, reference_number: str | None, language: str) -> Any:
    """Takes the next outcome off the plan file named by RENDER_PLAN: "x" fails as a defect
    in rendering would, "h" hangs for HANG_SECONDS first, "s" takes SLOW_SECONDS first,
    anything else or nothing left renders for real. Notes each rendering's time and outcome
    in the file's `.log` sibling, as it starts."""
    plan = Path(os.environ[RENDER_PLAN])
    outcomes = plan.read_text()
    plan.write_text(outcomes[1:])
    fails = outcomes[:1] == FAILS
    with plan.with_suffix(".log").open("a") as log:
        log.write(f"{time.time()} {'failed' if fails else 'rendered'}\n")
    if fails:
        raise ValueError(f"no font has a glyph for {invoice.customer.name[:1]!r}")
    if outcomes[:1] in (HANGS, SLOW):
        time.sleep(HANG_SECONDS if outcomes[:1] == HANGS else SLOW_SECONDS)
    return render_documents(invoice, reference_number, language)


def plan_renderings(plan: Path, outcomes: str) -> None:
    """The next renderings' outcomes (see render_as_planned); none noted yet."""
    plan.write_text(outcomes)
    plan.with_suffix(".log").unlink(missing_ok=True)


def outcomes_left(plan: Path) -> bool:
    return bool(plan.read_text())


def planned_renderings(plan: Path) -> list[tuple[float, str]]:
    """(time, outcome) of each rendering render_as_planned did with this plan, in order."""
    log = plan.with_suffix(".log")
    lines = log.read_text().splitlines() if log.exists() else []
    return [(float(moment), outcome) for moment, outcome in (line.split() for line in lines)]
