"""The container files, checked without a Docker engine: layer order, user, volume, health check, entrypoint."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage (continuation lines joined, comments dropped)."""
    stages: list[list[Instruction]] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), args.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def find(stage: list[Instruction], keyword: str, contains: str = "") -> int:
    for index, ins in enumerate(stage):
        if ins.keyword == keyword and contains in ins.args:
            return index
    raise AssertionError(f"no {keyword} {contains!r} in the stage")


def test_two_stages_on_python_311_slim(stages: list[list[Instruction]]) -> None:
    assert [s[0].args for s in stages] == ["python:3.11-slim AS builder", "python:3.11-slim AS runtime"]


def test_builder_installs_the_lock_before_copying_the_source(stages: list[list[Instruction]]) -> None:
    builder = stages[0]
    copy_lock = find(builder, "COPY", "requirements.lock")
    install_deps = find(builder, "RUN", "pip install -c requirements.lock")
    copy_source = find(builder, "COPY", "bot ./bot")
    install_bot = find(builder, "RUN", "pip install --no-deps .")
    assert copy_lock < install_deps < copy_source < install_bot
    assert "bot" not in builder[copy_lock].args.split()  # the dependency layer holds no source
    assert find(builder, "COPY", "cogs ./cogs") > install_deps


def test_the_runtime_dependency_list_is_extracted_from_pyproject(stages: list[list[Instruction]]) -> None:
    """Run the builder's own extraction command: it must list exactly the project's dependencies."""
    run = stages[0][find(stages[0], "RUN", "tomllib")].args
    command = shlex.split(run.split(">", 1)[0])
    assert command[:2] == ["python", "-c"]
    out = subprocess.run([sys.executable, "-c", command[2]], cwd=ROOT, capture_output=True, text=True, check=True)
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert out.stdout.splitlines() == expected


def test_every_runtime_dependency_is_pinned_in_the_lock() -> None:
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pinned = {
        norm(line.split("==")[0]) for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line
    }
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name = re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0]
        assert norm(name) in pinned, requirement


def test_runtime_runs_unprivileged_with_a_data_volume_and_a_health_check(stages: list[list[Instruction]]) -> None:
    runtime = stages[-1]
    user = runtime[find(runtime, "USER")].args
    assert user not in ("root", "0") and user
    assert find(runtime, "USER") > find(runtime, "COPY", "--from=builder")
    assert json.loads(runtime[find(runtime, "VOLUME")].args) == ["/data"]
    env = " ".join(i.args for i in runtime if i.keyword == "ENV")
    # The container's defaults are a file a mounted config.toml overrides, not LIBBOT_* variables it cannot.
    assert "LIBBOT_DEFAULTS_FILE=/etc/liblib-bot/defaults.toml" in env
    assert "LIBBOT_STORAGE__URL" not in env and "LIBBOT_METRICS__" not in env
    defaults = runtime[find(runtime, "RUN", "defaults.toml")].args
    written = subprocess.run(
        ["sh", "-c", defaults.split("&& printf", 1)[1].split(">", 1)[0].join(["printf", ""])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = tomllib.loads(written)
    assert data == {
        "storage": {"url": "sqlite:////data/bot.db"},
        "metrics": {"enabled": True, "host": "0.0.0.0", "port": 9108},  # noqa: S104 - the container's own port
    }
    chown = runtime[find(runtime, "RUN", "chown")].args
    assert "/data" in chown and user in chown
    health = runtime[find(runtime, "HEALTHCHECK")].args
    assert json.loads(health.split("CMD", 1)[1]) == ["python", "-m", "bot.ops.health"]
    assert json.loads(runtime[find(runtime, "ENTRYPOINT")].args) == ["liblib-bot"]
    assert json.loads(runtime[find(runtime, "CMD")].args) == ["run"]


def test_the_build_context_has_what_the_copies_need_and_no_secrets(stages: list[list[Instruction]]) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)

    for ins in stages[0]:
        if ins.keyword == "COPY":
            *sources, _dest = ins.args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert not ignored(source), source
    for secret in ("config.toml", ".env", "data", "bot.db", ".git", ".venv"):
        assert ignored(secret), secret


def test_compose_example_keeps_the_database_on_a_volume() -> None:
    text = (ROOT / "docker-compose.example.yml").read_text()
    assert "build: ." in text and "- bot-data:/data" in text and "env_file: .env" in text
    assert "DISCORD_TOKEN=" in text  # documented, never filled in
    assert not re.search(r"DISCORD_TOKEN=\S", text.replace("DISCORD_TOKEN=...", ""))


def test_the_entrypoint_runs() -> None:
    for command in ([sys.executable, "-m", "bot", "--help"], [str(Path(sys.executable).parent / "liblib-bot"), "-h"]):
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        assert out.returncode == 0, out.stderr
        assert all(name in out.stdout for name in ("run", "check", "simulate", "sync-commands"))


def test_the_health_check_fails_when_nothing_answers(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = subprocess.run(
        [sys.executable, "-m", "bot.ops.health"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"LIBBOT_METRICS__PORT": str(port), "PATH": ""},
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("unhealthy:")
