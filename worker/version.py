"""The running release: the installed package's version, as /metrics (invoicer_build_info),
the spans' resource (service.version) and the AsyncAPI document (info.version) give it."""

from __future__ import annotations

from functools import cache
from importlib import metadata


@cache
def package_version() -> str:
    try:
        return metadata.version("invoicer")
    except metadata.PackageNotFoundError:
        return "unknown"
