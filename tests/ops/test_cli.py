"""The README's main job: `liblib-bot imagine` against the built-in simulator, and `run` without a token."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from PIL import Image, ImageChops

from bot.composition import open_liblib
from bot.liblib import endpoints as ep
from bot.liblib.signing import signed_query
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.liblib.simulator.images import badge_image, layout
from bot.ops.cli import COMMANDS, _parser, main, simulator_address, with_default_command
from bot.settings import Settings, SimulatorSettings
from tests.e2e.process import child_env
from tests.sim_thread import SimThread

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("restore_logging")  # main() configures logging


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("LIBLIB_ACCESS_KEY", "LIBLIB_SECRET_KEY", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no config.toml here
    monkeypatch.setenv("LIBBOT_SIMULATOR__RUNNING_SECONDS", "0.05")
    monkeypatch.setenv("LIBBOT_LIBLIB__POLL_INTERVAL_MIN", "0.02")
    monkeypatch.setenv("LIBBOT_LIBLIB__POLL_INTERVAL_MAX", "0.05")


def test_imagine_writes_pngs_via_the_simulator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["imagine", "a red fox", "--count", "2", "--out", str(tmp_path / "out")]) == 0
    files = sorted((tmp_path / "out").glob("*.png"))
    assert len(files) == 2
    with Image.open(files[0]) as img:
        assert img.format == "PNG"
    captured = capsys.readouterr()
    assert "seed=" in captured.out and "points spent" in captured.out
    assert "simulator" in captured.err


def test_imagine_with_a_local_image_uploads_it(tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    Image.new("RGB", (300, 200), "red").save(src)
    assert main(["imagine", "make it blue", "--mode", "kontext", "--image", str(src), "--out", str(tmp_path)]) == 0


def test_imagine_refuses_bad_input_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["imagine", "x", "--count", "9"]) == 2
    assert "count" in capsys.readouterr().err


def test_run_without_a_token_explains_how_to_get_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "Discord token: not set" in line] == err.splitlines(), err
    assert "discord.com/developers/applications" in err and "DISCORD_TOKEN" in err


# -- the terminal: member-facing texts, the no-keys notice, owner wording, progress ----------------


def test_imagine_prints_no_discord_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    """The builder's texts are written for Discord (**option**, `code`); the terminal gets them plain."""
    assert main(["imagine", "a fox", "--mode", "nope"]) == 2
    err = capsys.readouterr().err
    assert "error: mode: unknown mode 'nope'. Available: star3, kontext-pro" in err
    assert "**" not in err and "`" not in err


def test_imagine_says_once_that_there_are_no_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["imagine", "a red fox", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("No LiblibAI keys") == 1, captured.err
    assert "simulator" in captured.err and "(simulated)" in captured.out
    assert "**" not in captured.out + captured.err and "`" not in captured.out + captured.err


def test_imagine_words_a_key_problem_for_the_owner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one running the command line is the owner: no "ask the server owner", but what to fix."""
    with SimThread(Simulator(SimulatorSettings(port=0))).running() as sim:
        base_url = sim.sim.base_url
        monkeypatch.setenv("LIBBOT_LIBLIB__BASE_URL", base_url)
        monkeypatch.setenv("LIBLIB_ACCESS_KEY", DEV_ACCESS_KEY)
        monkeypatch.setenv("LIBLIB_SECRET_KEY", "wrong-secret")
        assert main(["imagine", "a red fox", "--out", str(tmp_path / "out")]) == 1
        assert sim.counter_snapshot()["auth_failures"] >= 1
    err = capsys.readouterr().err
    assert f"error: LiblibAI keys: rejected by LiblibAI at {base_url}" in err, err
    assert "LIBLIB_SECRET_KEY" in err and "owner" not in err.lower() and "wrong-secret" not in err


def test_imagine_kontext_keeps_the_input_images_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As a restyle on Discord: a 16:9 input gives a 16:9 result, not Kontext's default square."""
    src = tmp_path / "wide.png"
    Image.new("RGB", (1600, 900), "red").save(src)
    out = tmp_path / "out"
    assert main(["imagine", "make it blue", "--mode", "kontext", "--image", str(src), "--out", str(out)]) == 0
    [result] = sorted(out.glob("*.png"))
    with Image.open(result) as img:
        width, height = img.size
    assert abs(width / height - 16 / 9) < 0.03, (width, height)


def test_imagine_progress_off_a_terminal_is_one_plain_line_per_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["imagine", "a red fox", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    progress = [line for line in err.splitlines() if line.startswith("  [")]
    statuses = [line.split("] ", 1)[1] for line in progress]
    assert statuses and len(statuses) == len(set(statuses)), err  # a line when the status changes, not per poll


def test_imagine_progress_on_a_terminal_rewrites_one_line(tmp_path: Path) -> None:
    """The real command on a pseudo-terminal: the progress is one line rewritten with carriage returns."""
    env = child_env(
        {
            "LIBBOT_SIMULATOR__RUNNING_SECONDS": "0.8",
            "LIBBOT_LIBLIB__POLL_INTERVAL_MIN": "0.05",
            "LIBBOT_LIBLIB__POLL_INTERVAL_MAX": "0.1",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    controller, terminal = pty.openpty()
    chunks: list[bytes] = []
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "bot", "imagine", "a red fox", "--out", str(tmp_path / "out")],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
        ) as child:
            os.close(terminal)
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            out, _ = child.communicate(timeout=60)
        assert child.returncode == 0 and b"points spent" in out
    finally:
        os.close(controller)
    err = b"".join(chunks).decode().replace("\r\n", "\n")  # the terminal turns each newline into CR LF
    [line] = [line for line in err.split("\n") if "[" in line and "s] " in line]  # one progress line
    shown = [part.strip() for part in line.split("\r") if part.strip()]
    assert len(shown) >= 2, line  # rewritten at least once: queued, then generating ...
    assert "queued" in shown[0] and any("generating" in part for part in shown[1:]), shown


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["run"]),
        (["--config", "bot.toml"], ["--config", "bot.toml", "run"]),
        (["--config", "bot.toml", "sync-commands"], ["--config", "bot.toml", "sync-commands"]),
        (["imagine", "a fox"], ["imagine", "a fox"]),
        (["--version"], ["--version"]),
        (["-h"], ["-h"]),
    ],
)
def test_python_m_bot_runs_the_bot_unless_a_subcommand_is_given(argv: list[str], expected: list[str]) -> None:
    assert with_default_command(argv) == expected


def test_every_subcommand_is_known_to_python_m_bot() -> None:
    """``COMMANDS`` is the parser's list: each parses, so ``python -m bot <command>`` passes it through."""
    parser = _parser()
    for command in COMMANDS:
        args = {"imagine": ["imagine", "fox"], "backup": ["backup", "copy.db"]}.get(command, [command])
        assert parser.parse_args(args).command == command == with_default_command(args)[0]


# -- a simulator running on its own (`liblib-bot simulate` in another terminal) ----------------------------


@pytest.fixture
def running_sim() -> Iterator[SimThread]:
    """A simulator serving from its own thread, accepting an owner's key pair besides the dev pair."""
    fast = SimulatorSettings(port=0, queued_seconds=0.01, running_seconds=0.05, auditing_seconds=0.01)
    accounts = {DEV_ACCESS_KEY: DEV_SECRET_KEY, "owner-key": "owner-secret"}
    with SimThread(Simulator(fast, accounts=accounts, submit_per_second=50)).running() as thread:
        yield thread


def badge_index(path: Path, count: int) -> int | None:
    """Which "k/count" the simulator painted on the image at ``path``."""
    with Image.open(path) as img:
        where = layout(*img.size, count)
        painted = img.convert("RGB").crop(where.badge)
    found = [
        k for k in range(1, count + 1) if ImageChops.difference(painted, badge_image(k, count, where)).getbbox() is None
    ]
    return found[0] if len(found) == 1 else None


def test_imagine_without_keys_uses_the_simulator_base_url_points_at(
    running_sim: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No keys and ``liblib.base_url`` at a running simulator: imagine signs with the dev pair there instead of
    starting a simulator of its own; the files are named as their painted index says."""
    monkeypatch.setenv("LIBBOT_LIBLIB__BASE_URL", running_sim.sim.base_url)
    out = tmp_path / "out"
    assert main(["imagine", "a fox over there", "--count", "3", "--out", str(out)]) == 0
    counters = running_sim.counter_snapshot()
    assert counters["submits"] == 1 and counters["image_downloads"] == 3 and counters["auth_failures"] == 0
    captured = capsys.readouterr()
    assert f"dev key pair at {running_sim.sim.base_url}" in captured.err
    assert "built-in simulator" not in captured.err
    files = sorted(out.glob("*.png"))
    assert [p.stem.rsplit("_", 1)[1] for p in files] == ["1", "2", "3"]
    assert [badge_index(p, 3) for p in files] == [1, 2, 3]
    assert all(line.endswith("\tsimulated") for line in captured.out.splitlines() if ".png" in line)


def test_imagine_with_keys_at_a_simulator_says_simulated(
    running_sim: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner's keys against ``liblib-bot simulate``: the process did not start the simulator, but its tag
    marks the output simulated."""
    monkeypatch.setenv("LIBBOT_LIBLIB__BASE_URL", running_sim.sim.base_url)
    monkeypatch.setenv("LIBLIB_ACCESS_KEY", "owner-key")
    monkeypatch.setenv("LIBLIB_SECRET_KEY", "owner-secret")
    assert main(["imagine", "an owner's fox", "--out", str(tmp_path / "out")]) == 0
    assert running_sim.counter_snapshot()["submits"] == 1
    captured = capsys.readouterr()
    assert "points spent: 8 (simulated)" in captured.out
    assert "\tsimulated" in captured.out
    assert f"SIMULATED: answered by the LiblibAI simulator at {running_sim.sim.base_url}" in captured.err
    assert "owner-secret" not in captured.out + captured.err


async def test_open_liblib_starts_no_simulator_when_base_url_points_at_one(running_sim: SimThread) -> None:
    settings = Settings(liblib={"base_url": running_sim.sim.base_url})
    async with open_liblib(settings) as (client, simulator):
        assert simulator is None
        assert client.settings.base_url == running_sim.sim.base_url
        assert client.simulated  # the dev pair only works on a simulator
    async with open_liblib(Settings()) as (client, simulator):  # no keys, the real API's URL: the built-in one
        assert simulator is not None and client.settings.base_url == simulator.base_url


async def test_open_liblib_with_keys_asks_a_changed_base_url_whether_it_is_a_simulator(
    running_sim: SimThread,
) -> None:
    """Known before the first request is built (so it is marked too): one unsigned GET, no API call."""
    keys = {"access_key": "owner-key", "secret_key": "owner-secret"}
    async with open_liblib(Settings(liblib={"base_url": running_sim.sim.base_url, **keys})) as (client, simulator):
        assert simulator is None and client.simulated
    counters = running_sim.counter_snapshot()
    assert counters["status_queries"] == counters["submit_requests"] == counters["auth_failures"] == 0


@pytest.mark.parametrize(
    ("sections", "argv", "expected"),
    [
        ({}, [], ("127.0.0.1", 8765)),
        ({}, ["--port", "0"], ("127.0.0.1", 0)),
        ({"liblib": {"base_url": "http://localhost:9123"}}, [], ("localhost", 9123)),
        ({"liblib": {"base_url": "http://localhost:9123"}}, ["--port", "9200"], ("127.0.0.1", 9200)),
        ({"liblib": {"base_url": "https://sim.example:9123"}}, [], ("127.0.0.1", 8765)),
        ({"simulator": {"port": 9300}, "liblib": {"base_url": "http://127.0.0.1:9123"}}, [], ("127.0.0.1", 9300)),
    ],
)
def test_simulate_listens_where_base_url_points(
    sections: dict[str, dict[str, object]], argv: list[str], expected: tuple[str, int]
) -> None:
    args = _parser().parse_args(["simulate", *argv])
    address = simulator_address(Settings(**sections), args.host, args.port)
    assert (address.host, address.port) == expected


async def test_simulate_accepts_the_configured_keys_and_the_dev_pair(tmp_path: Path) -> None:
    """The real ``liblib-bot simulate`` process, started with LIBLIB_ACCESS_KEY/LIBLIB_SECRET_KEY set: it prints
    where it listens and the dev pair (never the configured secret), and accepts requests signed with either."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIBBOT_", "LIBLIB_"))}
    env |= {"LIBLIB_ACCESS_KEY": "owner-key", "LIBLIB_SECRET_KEY": "owner-secret-value"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "simulate", "--port", "0",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    printed: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("Ctrl-C" in line for line in printed):
                line = (await process.stdout.readline()).decode()
                assert line, "".join(printed)
                printed.append(line)
        text = "".join(printed)
        base_url = next(line.split("listening on ")[1].split()[0] for line in printed if "listening on" in line)
        assert f"LIBLIB_ACCESS_KEY={DEV_ACCESS_KEY} LIBLIB_SECRET_KEY={DEV_SECRET_KEY}" in text
        assert "your configured key pair" in text and "owner-secret-value" not in text
        assert f'base_url = "{base_url}"' in text
        async with aiohttp.ClientSession() as http:
            for key, secret, code in (
                ("owner-key", "owner-secret-value", 100051),  # accepted: the task just does not exist
                (DEV_ACCESS_KEY, DEV_SECRET_KEY, 100051),
                ("owner-key", "not-the-secret", 401),
            ):
                query = signed_query(ep.WEBUI_STATUS, key, secret)
                async with http.post(base_url + ep.WEBUI_STATUS, params=query, json={"generateUuid": "x"}) as resp:
                    assert (await resp.json())["code"] == code, key
                    assert resp.headers[ep.SIMULATOR_HEADER] == "1"
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            rest = await process.stdout.read()
            await process.wait()
    assert "owner-secret-value" not in rest.decode()
