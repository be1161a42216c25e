"""The README's main job: `liblib-bot imagine` against the built-in simulator, and `run` without a token."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bot.ops.cli import COMMANDS, _parser, main, with_default_command

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
    assert "discord.com/developers/applications" in capsys.readouterr().err


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
