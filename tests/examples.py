"""The contract's sample events, as shipped with the package for `invoicer dev --demo`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "worker" / "demo"


def example(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EXAMPLES_DIR / name).read_text("utf-8"))
    return event
