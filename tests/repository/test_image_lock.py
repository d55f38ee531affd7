"""The image is reproducible and carries only what runs: every runtime dependency comes from
requirements.lock, pinned with its hashes; the build tools that make the project's wheel
come from requirements-build.lock and stay in the build stage."""

from __future__ import annotations

import re
import tomllib
from typing import Any

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


def unmet_pins(lock_text: str, requirements: list[str]) -> set[str]:
    """The requirements whose package the lock leaves out or pins to a version the
    requirement refuses: a lock made before pyproject.toml last changed."""
    pins = {name: entry.split()[0].split("==", 1)[1] for name, entry in _entries(lock_text).items()}
    unmet = set()
    for line in requirements:
        requirement = Requirement(line)
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin, prereleases=True):
            unmet.add(canonicalize_name(requirement.name))
    return unmet


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


RUNTIME_REQUIREMENTS: list[str] = _pyproject()["project"]["dependencies"]
BUILD_REQUIREMENTS: list[str] = _pyproject()["build-system"]["requires"]


def test_every_lock_pins_versions_pyproject_accepts() -> None:
    assert unmet_pins(LOCK.read_text(), RUNTIME_REQUIREMENTS) == set()
    assert unmet_pins(BUILD_LOCK.read_text(), BUILD_REQUIREMENTS) == set()


@pytest.mark.parametrize("requirement", RUNTIME_REQUIREMENTS + BUILD_REQUIREMENTS)
def test_a_pin_pyproject_refuses_is_found(requirement: str) -> None:
    """pyproject.toml asks for a newer (or older) release than the lock holds."""
    name = canonicalize_name(Requirement(requirement).name)
    lock = LOCK if requirement in RUNTIME_REQUIREMENTS else BUILD_LOCK
    refused = next(
        version
        for version in ("0.0.1", "99999.0")
        if not Requirement(requirement).specifier.contains(version, prereleases=True)
    )
    entries = _entries(lock.read_text())
    stale = lock.read_text().replace(
        entries[name].split(" ", 1)[0], f"{entries[name].split('==', 1)[0]}=={refused}", 1
    )

    assert name in unmet_pins(stale, [requirement])


VENV_INSTALL = re.compile(r"pip --python (/opt/\w+)/bin/python install\b")


def image_lock_problems(dockerfile: str) -> list[str]:
    """What lets a build tool or an unlocked package into the image: a lock installed into
    another virtual environment than its own, a pip install in the runtime stage, or the
    runtime stage copying more than the runtime environment from the build stage."""
    build, runtime = dockerfile.split("AS runtime", 1)
    problems = []
    commands = re.split(r"&&|\n", build.replace("\\\n", " "))
    for command in commands:
        install = VENV_INSTALL.search(command)
        locks = set(re.findall(r"-r (\S+)", command))
        if install is None:
            if locks:
                problems.append(f"{sorted(locks)} installed outside the two environments")
            continue
        wanted = {"/opt/invoicer": {LOCK.name}, "/opt/build": {BUILD_LOCK.name}}.get(install[1])
        if locks and locks != wanted:
            problems.append(f"{sorted(locks)} installed into {install[1]}")
    if re.search(r"\bpip\b[^\n]*\binstall\b", runtime):
        problems.append("the runtime stage installs packages")
    copied = re.findall(r"COPY --from=build (\S+)", runtime)
    if copied != ["/opt/invoicer"]:
        problems.append(f"the runtime stage copies {copied} from the build stage")
    return problems


def test_each_lock_goes_into_its_own_environment_and_only_the_runtime_one_ships() -> None:
    assert image_lock_problems(DOCKERFILE.read_text()) == []


SPOILT_DOCKERFILES = {
    "the build lock into the runtime environment": lambda text: text.replace(
        "pip --python /opt/build/bin/python install",
        "pip --python /opt/invoicer/bin/python install",
    ),
    "the runtime lock into the build environment only": lambda text: text.replace(
        "pip --python /opt/invoicer/bin/python install --no-cache-dir --no-deps --require-hashes",
        "pip --python /opt/build/bin/python install --no-cache-dir --no-deps --require-hashes",
    ),
    "a pip install in the runtime stage": lambda text: text.replace(
        "USER 10001:10001", "RUN pip install --no-cache-dir hatchling\nUSER 10001:10001"
    ),
    "the build environment copied into the runtime stage": lambda text: text.replace(
        "COPY --from=build /opt/invoicer /opt/invoicer",
        "COPY --from=build /opt/invoicer /opt/invoicer\nCOPY --from=build /opt/build /opt/b",
    ),
}


@pytest.mark.parametrize("spoil", sorted(SPOILT_DOCKERFILES))
def test_a_dockerfile_that_lets_build_tools_into_the_image_is_found(spoil: str) -> None:
    original = DOCKERFILE.read_text()
    spoilt = SPOILT_DOCKERFILES[spoil](original)

    assert spoilt != original
    assert image_lock_problems(spoilt), spoil
