"""Typed configuration: a TOML file plus MJBOT_* environment overrides, read once in main().

The keys, defaults and checks live in bot/config_schema.py; this module loads them and turns
every problem into one plain sentence. Importers keep using `bot.config` for both.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from bot.config_schema import (
    _CONFIG_PATH,
    CHARGED_ACTIONS,
    ENV_PREFIX,
    AuthStyle,
    Backend,
    DiscordSettings,
    JobsSettings,
    LogFormat,
    LogLevel,
    MetricsSettings,
    MidjourneySettings,
    QuotaSettings,
    SecuritySettings,
    Settings,
    StorageSettings,
    WebhookSettings,
)
from storage.url import redact_url

__all__ = [
    "CHARGED_ACTIONS",
    "ENV_PREFIX",
    "AuthStyle",
    "Backend",
    "ConfigError",
    "DiscordSettings",
    "JobsSettings",
    "LogFormat",
    "LogLevel",
    "MetricsSettings",
    "MidjourneySettings",
    "QuotaSettings",
    "SecuritySettings",
    "Settings",
    "StorageSettings",
    "WebhookSettings",
    "load_settings",
    "unknown_environment",
]


class ConfigError(Exception):
    """A configuration that cannot be used; each problem is one plain sentence.

    `from_environment` says, per problem, whether an environment variable caused it.
    """

    def __init__(self, problems: list[str], from_environment: list[bool] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.from_environment = from_environment or [False] * len(problems)


def _env_names() -> dict[str, str]:
    """Every environment variable name that sets something (upper case) -> the key it sets."""
    names: dict[str, str] = {}
    for section, field in Settings.model_fields.items():
        model = field.annotation
        names[f"{ENV_PREFIX}{section}".upper()] = section
        if isinstance(model, type) and issubclass(model, BaseModel):
            for key in model.model_fields:
                names[f"{ENV_PREFIX}{section}__{key}".upper()] = f"{section}.{key}"
    return names


def _dict_keys() -> set[str]:
    """Keys whose value is a table: their variables may go one level deeper (`__NAME`)."""
    return {
        f"{ENV_PREFIX}quota__{key}".upper()
        for key, field in QuotaSettings.model_fields.items()
        if field.annotation is not None and getattr(field.annotation, "__origin__", None) is dict
    }


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per MJBOT_ variable that matches no setting (a misspelling does nothing)."""
    environ = os.environ if environ is None else environ
    names = _env_names()
    tables = _dict_keys()
    warnings = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in names:
            continue
        if any(upper.startswith(table + "__") for table in tables):
            continue
        close = difflib.get_close_matches(upper, list(names), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(
            f"The environment variable {name} matches no setting{hint}; it is ignored. "
            f"Variables are named {ENV_PREFIX}<SECTION>__<KEY>, with two underscores."
        )
    return warnings


def _env_variable(key: str) -> str | None:
    """The environment variable that set `key` ('section.key'), if one did."""
    wanted = {name for name, setting in _env_names().items() if setting == key}
    section = key.split(".", 1)[0]
    for name in os.environ:
        if name.upper() in wanted:
            return name
    for name in os.environ:  # a whole section given as JSON
        if name.upper() == f"{ENV_PREFIX}{section}".upper() and "." in key:
            return name
    return None


def _describe(err: dict[str, Any]) -> tuple[str, bool]:
    key = ".".join(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    variable = _env_variable(".".join(str(p) for p in err.get("loc", ())[:2]))
    subject = (
        f"Environment variable {variable} (setting '{key}')" if variable else f"Setting '{key}'"
    )
    if kind == "extra_forbidden":
        if variable:
            return f"{subject} names no setting: remove it or check its spelling.", True
        return f"Unknown setting '{key}': remove it or check its spelling.", False
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        return (
            f"{subject} has value {err.get('input')!r}; it must be one of {allowed}.",
            variable is not None,
        )
    given = err.get("input")
    if key == "storage.url" and isinstance(given, str):
        given = redact_url(given)  # a PostgreSQL URL carries its password
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    msg = msg.replace("Input should be", "must be").replace("Input should", "must")
    msg = msg.rstrip(".") or "is invalid"
    return (
        f"{subject} {msg[0].lower() + msg[1:]} (got {given!r}).",
        variable is not None,
    )


def _unparsable_environment() -> list[str]:
    """Variables of list or table settings whose value is not JSON (pydantic-settings would
    only say which section failed)."""
    complex_keys = {
        name: setting
        for name, setting in _env_names().items()
        if "." not in setting
        or getattr(_field(setting).annotation, "__origin__", None) in (list, dict)
    }
    problems = []
    for name, value in os.environ.items():
        setting = complex_keys.get(name.upper())
        if setting is None:
            continue
        try:
            json.loads(value)
        except ValueError:
            example = "a table such as '{\"upscale_hd\": 2}'"
            if getattr(_field(setting).annotation, "__origin__", None) is list:
                example = "a list such as '[123456789012345678]'"
            if "." not in setting:
                example = "a JSON object of the section's keys"
            problems.append(
                f"Environment variable {name} (setting '{setting}') is not valid JSON; "
                f"write {example}."
            )
    return problems


def _field(setting: str) -> Any:
    section, _, key = setting.partition(".")
    field = Settings.model_fields[section]
    if not key:
        return field
    model = field.annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model.model_fields[key]


def load_settings(
    path: str | Path | None, *, require_token: bool = True, require_proxy: bool = True
) -> Settings:
    """Read and validate the configuration, raising ConfigError with readable sentences."""
    import tomllib

    file_path: Path | None = None
    if path is not None:
        file_path = Path(path)
        try:
            with file_path.open("rb") as fh:
                tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError([f"The config file '{file_path}' does not exist."]) from None
        except PermissionError:
            raise ConfigError(
                [f"The config file '{file_path}' cannot be read (permission denied)."]
            ) from None
        except IsADirectoryError:
            raise ConfigError(
                [f"The config path '{file_path}' is a directory, not a file."]
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                [f"The config file '{file_path}' is not valid TOML: {exc}."]
            ) from None
    _CONFIG_PATH["path"] = file_path
    try:
        settings = Settings()
    except ValidationError as exc:
        described = [_describe(dict(e)) for e in exc.errors()]
        raise ConfigError([d[0] for d in described], [d[1] for d in described]) from None
    except SettingsError as exc:
        unreadable = _unparsable_environment() or [f"The environment cannot be read: {exc}."]
        raise ConfigError(unreadable, [True] * len(unreadable)) from None
    finally:
        _CONFIG_PATH.pop("path", None)
    problems: list[str] = []
    if require_token and not settings.discord.token.get_secret_value().strip():
        problems.append(
            "Setting 'discord.token' is empty: put the bot token in the config "
            "or in the environment variable MJBOT_DISCORD__TOKEN."
        )
    problems.extend(_secret_key_problems(settings))
    if require_proxy and settings.midjourney.allow_default and not settings.midjourney.base_url:
        problems.append(
            "Setting 'midjourney.base_url' is empty: give the proxy's address, "
            "e.g. https://api.example.com (or http://127.0.0.1:8787 for `mjbot mock-api`), "
            "or set 'midjourney.allow_default' to false so that only servers' own proxies are used."
        )
    if settings.webhook.enabled and not settings.webhook.public_url:
        problems.append(
            "Setting 'webhook.public_url' is empty although 'webhook.enabled' is true: "
            "give the address the proxy can reach the bot at."
        )
    if problems:
        raise ConfigError(problems)
    return settings


def _secret_key_problems(settings: Settings) -> list[str]:
    """A malformed security.secret_key, named without its value."""
    from bot.keys import KeyBox, KeyBoxError

    value = settings.security.secret_key.get_secret_value().strip()
    if not value:
        return []
    try:
        KeyBox(value)
    except KeyBoxError:
        variable = _env_variable("security.secret_key")
        subject = (
            f"Environment variable {variable} (setting 'security.secret_key')"
            if variable
            else "Setting 'security.secret_key'"
        )
        return [
            f"{subject} is not a usable key: it must be 32 random bytes in URL-safe base64 "
            '(44 characters), as printed by `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        ]
    return []
