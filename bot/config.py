"""Typed configuration: a TOML file plus MJBOT_* environment overrides, read once in main()."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

AuthStyle = Literal["bearer", "raw", "mj-api-secret"]
Backend = Literal["plus", "trueai", "new-api"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]
ENV_PREFIX = "MJBOT_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or rest.startswith("/"):
        raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value.rstrip("/")


class DiscordSettings(_Section):
    token: SecretStr = SecretStr("")
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    guild_ids: list[int] = Field(default_factory=list)
    # REST requests per second for job messages on the channel routes (Discord allows 50 across
    # the bot's non-interaction routes); interaction responses and tokens are not counted.
    global_requests_per_second: float = Field(default=40.0, ge=1, le=50)

    @field_validator("api_base_url")
    @classmethod
    def _api(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("gateway_url")
    @classmethod
    def _gateway(cls, v: str) -> str:
        return _http_url(v, schemes=("ws", "wss")) + "/"


class MidjourneySettings(_Section):
    base_url: str = ""
    path_prefix: str = "/mj"
    api_key: SecretStr = SecretStr("")
    auth_style: AuthStyle = "bearer"
    backend: Backend = "plus"
    poll_interval_seconds: float = Field(default=3.0, gt=0, le=300)
    job_timeout_minutes: float = Field(default=15, gt=0, le=24 * 60)
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_batch_size: int = Field(default=50, ge=1, le=500)
    allow_default: bool = True  # servers without their own proxy (/mjadmin api) use this one

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        return _http_url(v) if v.strip() else ""

    @field_validator("path_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip().strip("/")
        return f"/{v}" if v else ""


class StorageSettings(_Section):
    path: str = "data/mjbot.sqlite3"
    retention_days: int = Field(default=90, ge=0)


class WebhookSettings(_Section):
    enabled: bool = False
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("public_url")
    @classmethod
    def _public(cls, v: str) -> str:
        return _http_url(v) if v.strip() else ""


class MetricsSettings(_Section):
    """The opt-in HTTP endpoint with /healthz and Prometheus /metrics."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


class SecuritySettings(_Section):
    # Encrypts the servers' own API keys at rest (Fernet); checked in load_settings, whose
    # sentence never echoes the value.
    secret_key: SecretStr = SecretStr("")
    # Servers' own proxies (/mjadmin api set) may be on private or loopback addresses: only for
    # a bot whose every server is trusted (the request would reach the operator's network).
    allow_private_proxies: bool = False


class JobsSettings(_Section):
    edit_interval_seconds: float = Field(default=3.0, ge=0.0, le=60)
    download_max_mb: float = Field(default=25.0, gt=0, le=200)
    download_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_prompt_length: int = Field(default=4000, ge=1, le=6000)


# The actions a job can be charged as (custom_ids.ButtonAction.weight_key, plus the commands).
CHARGED_ACTIONS = (
    "imagine",
    "blend",
    "describe",
    "shorten",
    "upscale",
    "upscale_hd",
    "variation",
    "reroll",
    "vary_region",
    "zoom",
    "custom_zoom",
    "pan",
    "animate",
    "video_upscale",
)


class QuotaSettings(_Section):
    """Defaults a guild starts with; moderators change them per guild with /mjadmin."""

    daily_quota: int = Field(default=25, ge=0)
    guild_daily_cap: int = Field(default=0, ge=0)
    max_jobs_per_user: int = Field(default=3, ge=0)
    max_jobs_per_guild: int = Field(default=20, ge=0)
    weights: dict[str, float] = Field(default_factory=dict)
    prices: dict[str, float] = Field(default_factory=dict)

    @field_validator("weights", "prices")
    @classmethod
    def _known_actions(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CHARGED_ACTIONS))
        if unknown:
            raise ValueError(
                f"names unknown actions ({', '.join(unknown)}); "
                f"the actions are {', '.join(CHARGED_ACTIONS)}"
            )
        if any(v < 0 for v in value.values()):
            raise ValueError("must not be negative")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MJBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    discord: DiscordSettings = DiscordSettings()
    midjourney: MidjourneySettings = MidjourneySettings()
    storage: StorageSettings = StorageSettings()
    webhook: WebhookSettings = WebhookSettings()
    jobs: JobsSettings = JobsSettings()
    quota: QuotaSettings = QuotaSettings()
    metrics: MetricsSettings = MetricsSettings()
    security: SecuritySettings = SecuritySettings()
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _CONFIG_PATH.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


_CONFIG_PATH: dict[str, Path | None] = {}


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
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    msg = msg.replace("Input should be", "must be").replace("Input should", "must")
    msg = msg.rstrip(".") or "is invalid"
    return (
        f"{subject} {msg[0].lower() + msg[1:]} (got {err.get('input')!r}).",
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
