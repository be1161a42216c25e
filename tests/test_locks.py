"""The two dependency locks: the runtime one holds no test tool, the dev one pins the runtime set identically."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    lines = (ROOT / lock).read_text().splitlines()
    return {norm(line.split("==")[0]): line.split("==")[1].strip() for line in lines if "==" in line}


def requirement_names(requirements: list[str]) -> set[str]:
    return {norm(re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0]) for r in requirements}


def test_the_runtime_lock_has_no_dev_tool_and_the_dev_lock_agrees_with_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    tools = requirement_names(project["optional-dependencies"]["dev"])
    assert not tools & set(runtime), sorted(tools & set(runtime))
    assert tools <= set(dev)
    assert requirement_names(project["dependencies"]) <= set(runtime)
    assert {name: dev[name] for name in runtime} == runtime  # the same versions in both


def test_dev_installs_runtime_for_run_and_dev_for_test() -> None:
    script = (ROOT / "dev").read_text()
    assert "setup runtime" in script and "setup dev" in script
    assert "requirements-dev.lock" in script and "PYTHONWARNINGS=ignore" in script
