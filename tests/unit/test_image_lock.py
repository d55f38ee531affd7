"""The image is reproducible: every dependency comes from requirements.lock, pinned with its
hashes, and the Dockerfile installs nothing else."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy_files import DOCKERFILE, ROOT

LOCK = ROOT / "requirements.lock"


def _locked() -> dict[str, list[str]]:
    """Each pinned package's name and hashes."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    locked: dict[str, list[str]] = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9._-]+)==\S+", entry)
        if match:
            locked[canonicalize_name(match[1])] = re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)
    return locked


def test_every_runtime_dependency_is_locked_with_its_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    locked = _locked()

    assert wanted <= locked.keys()
    assert {"tzdata", "hatchling"} <= locked.keys()
    assert all(hashes for hashes in locked.values())
    assert not re.search(
        r"^--", LOCK.read_text(), re.MULTILINE
    )  # no index of the machine it was made on


def test_the_dockerfile_installs_the_lock_and_only_it() -> None:
    dockerfile = DOCKERFILE.read_text()

    assert "--require-hashes" in dockerfile
    assert "-r requirements.lock" in dockerfile
    assert "--no-deps --no-build-isolation ." in dockerfile
