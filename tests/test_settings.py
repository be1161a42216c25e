from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIBLIB_ACCESS_KEY", "LIBLIB_SECRET_KEY", "DISCORD_TOKEN", "LIBBOT_LIBLIB__BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_example_config_loads_and_documents_every_section() -> None:
    settings = load_settings(Path(__file__).parents[1] / "config.example.toml")
    assert settings.liblib.submit_per_second == 1.0
    assert settings.models.custom[0].name == "dreamtech-xl"
    assert not settings.liblib.has_keys


def test_precedence_env_over_secret_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "c.toml"
    file.write_text(
        '[liblib]\nbase_url = "http://file"\naccess_key = "file-ak"\nsecret_key = "file-sk"\n'
        "[queue]\nmax_active_per_user = 9\n"
    )
    monkeypatch.setenv("LIBLIB_ACCESS_KEY", "env-ak")
    monkeypatch.setenv("LIBBOT_LIBLIB__BASE_URL", "http://env")
    monkeypatch.setenv("DISCORD_TOKEN", "tok")
    s = load_settings(file)
    assert s.liblib.base_url == "http://env"
    assert s.liblib.access_key is not None and s.liblib.access_key.get_secret_value() == "env-ak"
    assert s.liblib.secret_key is not None and s.liblib.secret_key.get_secret_value() == "file-sk"
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "tok"
    assert s.queue.max_active_per_user == 9
    assert "env-ak" not in repr(s) and "file-sk" not in str(s)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[liblib\n", "not valid TOML"),
        ("[liblib]\nsubmit_per_second = 0\n", "submit_per_second"),
        ("[nope]\nx = 1\n", "nope"),
        ('[[models.custom]]\nname = "star3"\ncheckpoint_id = "x"\n', "unique"),
        ('[[models.custom]]\nname = "seedream"\ncheckpoint_id = "x"\n', "built-in mode"),
        ('[[models.custom]]\nname = "img1-inpaint"\ncheckpoint_id = "x"\n', "built-in mode"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(file)
    assert fragment in str(info.value)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.toml")


def test_minus_one_means_unlimited_for_every_bot_wide_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [
        "images_per_day",
        "images_per_month",
        "points_per_day",
        "points_per_month",
        "server_images_per_day",
        "server_points_per_day",
        "server_points_per_month",
        "account_points_per_day",
    ]
    path = tmp_path / "config.toml"
    path.write_text("[quotas]\n" + "".join(f"{key} = -1\n" for key in keys))
    quotas = load_settings(str(path)).quotas
    assert all(getattr(quotas, key) is None for key in keys)
    monkeypatch.setenv("LIBBOT_QUOTAS__IMAGES_PER_DAY", "-1")  # the environment too
    assert load_settings(None).quotas.images_per_day is None
    monkeypatch.delenv("LIBBOT_QUOTAS__IMAGES_PER_DAY")
    path.write_text("[quotas]\nimages_per_day = -2\n")
    with pytest.raises(SettingsError, match="images_per_day"):
        load_settings(str(path))
    assert "remove the line for unlimited" not in (Path(__file__).parents[1] / "config.example.toml").read_text()


@pytest.mark.parametrize(
    "text",
    [
        "[queue]\nsubmitting_deadline = 100\n",  # the defaults' submit can take 111 s
        "[liblib]\nmax_retries = 6\n",  # 6 retries × 20 s + 30 s + 1 s > 120 s
        "[liblib]\nsubmit_per_second = 0.005\n",  # the limiter alone waits 204 s
    ],
)
def test_a_submitting_deadline_shorter_than_a_submit_can_take_is_refused_at_start(tmp_path: Path, text: str) -> None:
    # The watchdog would otherwise fail submits whose request may still succeed (and be billed).
    file = tmp_path / "tight.toml"
    file.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(file)
    message = str(info.value)
    assert "queue.submitting_deadline" in message and "liblib.max_retries" in message
    assert not message.startswith("invalid settings: :")  # a whole-settings check names no single key first


def test_the_default_deadline_fits_the_default_submit(tmp_path: Path) -> None:
    file = tmp_path / "fits.toml"
    file.write_text("[queue]\nsubmitting_deadline = 112\n")
    settings = load_settings(file)
    assert settings.liblib.worst_case_submit_seconds <= settings.queue.submitting_deadline
