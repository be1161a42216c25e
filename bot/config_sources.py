"""Where each setting came from: the environment (``LIBBOT_*`` or a plain secret variable), the settings file, or
the defaults file a container image provides (``LIBBOT_DEFAULTS_FILE``), and which environment values override
a value the file sets. ``check`` prints it; ``run`` warns about overrides at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "LIBBOT_"
SECRET_ENV = {  # the plain variables a secret may come from (bot.settings._SecretEnvSource)
    "LIBLIB_ACCESS_KEY": "liblib.access_key",
    "LIBLIB_SECRET_KEY": "liblib.secret_key",
    "DISCORD_TOKEN": "discord.token",
}
DEFAULTS_FILE_ENV = "LIBBOT_DEFAULTS_FILE"


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"storage": {"url": x}}`` -> ``{"storage.url": x}`` (a table of tables stays one key per leaf section)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted.count(".") < 1:
            out |= flatten(value, f"{dotted}.")
        else:
            out[dotted] = value
    return out


def env_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """Settings keys set in the environment -> the variable that sets them."""
    keys: dict[str, str] = {}
    for name in environ:
        if name.startswith(ENV_PREFIX) and "__" in name and name != DEFAULTS_FILE_ENV:
            keys[name[len(ENV_PREFIX) :].lower().replace("__", ".")] = name
    for name, key in SECRET_ENV.items():
        if environ.get(name) and key not in keys:
            keys[key] = name
    return keys


@dataclass(frozen=True, slots=True)
class Provenance:
    file: str | None  # the settings file read, if any
    from_env: dict[str, str] = field(default_factory=dict)  # key -> variable
    from_file: tuple[str, ...] = ()
    overridden: dict[str, str] = field(default_factory=dict)  # key set in the file, replaced by this variable

    def override_warnings(self) -> list[str]:
        return [
            f"{variable} in the environment overrides {key} from {self.file}: the file's value is ignored"
            for key, variable in sorted(self.overridden.items())
        ]


def provenance(file: str | None, file_data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Provenance:
    env = env_keys(os.environ if environ is None else environ)
    in_file = flatten(file_data)
    return Provenance(
        file=file,
        from_env=env,
        from_file=tuple(sorted(in_file)),
        overridden={key: env[key] for key in in_file if key in env},
    )
