"""What a failure means to the owner: the wording ``check``, ``run`` and ``imagine`` share, and run's exit statuses."""

from __future__ import annotations

import discord
import pytest

from bot.ops import problems
from bot.settings import DiscordSettings

SETTINGS = DiscordSettings(api_base_url="http://127.0.0.1:9/api/v10/", gateway_url="ws://127.0.0.1:9/", login_timeout=7)


def test_each_kind_of_failure_has_its_own_exit_status() -> None:
    statuses = [
        problems.EXIT_STOPPED,
        problems.EXIT_UNEXPECTED,
        problems.EXIT_SETTINGS,
        problems.EXIT_TOKEN_REJECTED,
        problems.EXIT_UNREACHABLE,
        problems.EXIT_REFUSED,
    ]
    assert statuses == [0, 1, 2, 3, 4, 5]
    assert problems.token_missing().exit_status == 2
    assert problems.token_rejected().exit_status == 3
    assert problems.discord_unreachable("x", "y").exit_status == 4
    assert problems.discord_silent("x", 1).exit_status == 4
    assert problems.intents_refused().exit_status == 5


def test_a_rejected_token_reads_the_same_for_run_as_for_check() -> None:
    problem = problems.discord_failure(discord.LoginFailure("Improper token has been passed."), SETTINGS)
    assert problem == problems.token_rejected()
    assert problem.line().startswith("Discord token: rejected by Discord (401 Unauthorized)")


def test_silence_names_the_part_that_did_not_answer_and_the_setting() -> None:
    login = problems.discord_failure(TimeoutError(), SETTINGS, during="log in")
    gateway = problems.discord_failure(TimeoutError(), SETTINGS, during="connect")
    assert login is not None and gateway is not None
    assert "the API at http://127.0.0.1:9/api/v10 did not answer within 7 s ([discord] login_timeout)" in login.detail
    assert "the gateway at ws://127.0.0.1:9/ did not answer within 7 s" in gateway.detail


def test_an_error_caused_by_an_unreachable_gateway_is_read_by_its_cause() -> None:
    """discord.py trips over its own state (AttributeError) when the very first gateway connection fails."""
    error = AttributeError("'NoneType' object has no attribute 'sequence'")
    error.__context__ = ConnectionRefusedError(111, "Connect call failed")  # raised while handling it
    problem = problems.discord_failure(error, SETTINGS, during="connect")
    assert problem is not None and problem.exit_status == problems.EXIT_UNREACHABLE
    assert problem.detail.startswith("cannot reach Discord at ws://127.0.0.1:9/: ") and "gateway_url" in problem.detail


@pytest.mark.parametrize("error", [OSError("disk"), TimeoutError(), KeyError("x")])
def test_the_bots_own_setup_is_not_blamed_on_discord(error: Exception) -> None:
    assert problems.discord_failure(error, SETTINGS, during="set up") is None


def test_an_unknown_error_is_not_dressed_up_as_a_known_one() -> None:
    assert problems.discord_failure(KeyError("x"), SETTINGS) is None
