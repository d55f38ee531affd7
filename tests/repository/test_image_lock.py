"""The image is reproducible and carries only what runs: every runtime dependency comes from
requirements.lock, pinned with its hashes; the build tools that make the project's wheel
come from requirements-build.lock and stay in the build stage."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy_files import DOCKERFILE, ROOT

LOCK = ROOT / "requirements.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"
# How pip-compile names what pyproject.toml asks for itself.
PROJECT = "invoicer (pyproject.toml)"


def _entries(text: str) -> dict[str, str]:
    """Each pinned package's name and its entry (pin, hashes, `# via` lines)."""
    entries: dict[str, str] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==\S+", entry)
        if match:
            entries[canonicalize_name(match[1])] = entry
    return entries


def _hashes(entry: str) -> list[str]:
    return re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)


def _needed_by(entry: str) -> set[str]:
    """What pip-compile says a package is there for (its `# via` lines)."""
    via = re.search(r"# via(.*)", entry, re.DOTALL)
    assert via is not None, entry
    names = re.findall(r"^\s*#\s+(.+?)\s*$", via.group(1), re.MULTILINE)
    return {
        name if name.startswith("invoicer (") else canonicalize_name(name)
        for name in [via.group(1).split("\n")[0].strip(), *names]
        if name
    }


def not_needed_at_run_time(lock_text: str) -> set[str]:
    """The locked packages that no runtime dependency of the project needs: those pulled in
    only by the build system, and what only they pull in."""
    entries = _entries(lock_text)
    needed: set[str] = set()
    reasons = {name: _needed_by(entry) for name, entry in entries.items()}
    changed = True
    while changed:
        changed = False
        for name, why in reasons.items():
            if name not in needed and (PROJECT in why or why & needed):
                needed.add(name)
                changed = True
    return set(entries) - needed


def _build_tools() -> set[str]:
    """What requirements-build.lock holds that no runtime dependency needs too."""
    return set(_entries(BUILD_LOCK.read_text())) - set(_entries(LOCK.read_text()))


def test_every_runtime_dependency_is_locked_with_its_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    locked = _entries(LOCK.read_text())

    assert wanted <= locked.keys()
    assert "tzdata" in locked
    for lock in (LOCK, BUILD_LOCK):
        assert all(_hashes(entry) for entry in _entries(lock.read_text()).values()), lock.name
        # no index of the machine it was made on
        assert not re.search(r"^--", lock.read_text(), re.MULTILINE), lock.name


def test_the_runtime_lock_holds_no_build_tool() -> None:
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    backends = {canonicalize_name(Requirement(line).name) for line in build_system["requires"]}
    locked = set(_entries(LOCK.read_text()))

    assert not backends & locked
    assert not not_needed_at_run_time(LOCK.read_text())
    assert backends <= set(_entries(BUILD_LOCK.read_text())), "the wheel is built from a lock"


@pytest.mark.parametrize("tool", sorted(_build_tools()))
def test_a_build_tool_in_the_runtime_lock_is_found(tool: str) -> None:
    """Each package of the build lock that runs nothing, put into the runtime lock as
    pip-compile --build-deps-for=wheel puts it there, is named."""
    entry = _entries(BUILD_LOCK.read_text())[tool]
    spoilt = LOCK.read_text() + "\n" + entry

    assert tool in not_needed_at_run_time(spoilt)


def test_the_dockerfile_installs_the_locks_and_only_them() -> None:
    dockerfile = DOCKERFILE.read_text()
    runtime = dockerfile.split("AS runtime", 1)[1]

    assert dockerfile.count("--require-hashes") == 2
    assert "-r requirements.lock" in dockerfile
    assert "-r requirements-build.lock" in dockerfile
    assert re.search(r"--python /opt/build/bin/python wheel [^\n]*--no-build-isolation", dockerfile)
    assert "/opt/build" not in runtime, "the build tools stay in the build stage"
