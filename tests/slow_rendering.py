"""A stand-in for worker.documents.render.render_documents that takes as long as it is told,
importable by the renderer's spawned processes."""

from __future__ import annotations

import time
from typing import Any

from worker.documents.render import render_documents
from worker.domain.lifecycle import Invoice

RENDER_DELAY_SECONDS = 2.0


def sleep_then_echo(name: str, seconds: str, language: str) -> str:
    """Sleeps `seconds` (passed where the reference number goes) and returns `name`."""
    time.sleep(float(seconds))
    return name


def render_slowly(invoice: Invoice, reference_number: str | None, language: str) -> Any:
    """The real rendering, RENDER_DELAY_SECONDS late: time for something to happen meanwhile."""
    time.sleep(RENDER_DELAY_SECONDS)
    return render_documents(invoice, reference_number, language)
