"""The configuration's shape: every section, key, default and check (loaded by bot/config.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from storage.url import DatabaseUrl, InvalidDatabaseUrl, parse_database_url

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
    guild_ids: list[int] = []
    # REST requests per second for job messages on the channel routes (Discord allows 50 across
    # the bot's non-interaction routes); interaction responses and tokens are not counted.
    global_requests_per_second: float = Field(default=40.0, ge=1, le=50)
    # Sharding (several processes share one PostgreSQL database): 0 = automatic, one process.
    shard_count: int = Field(default=0, ge=0, le=32767)  # storage.shards.MAX_SHARD_COUNT
    shard_ids: list[int] = []  # the shards this process runs; [] = all

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids(cls, v: list[int], info: ValidationInfo) -> list[int]:
        count = info.data.get("shard_count")
        if not v or count is None:  # a bad shard_count is reported on its own
            return v
        if count == 0:
            raise ValueError("needs discord.shard_count set to the total number of shards")
        outside = [s for s in v if not 0 <= s < count]
        if outside:
            raise ValueError(
                f"must list shard ids from 0 to {count - 1} (discord.shard_count is {count})"
            )
        if len(set(v)) != len(v):
            raise ValueError("must not list a shard twice")
        return v

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
    # "sqlite:///data/mjbot.sqlite3" or "postgresql://user:password@host:5432/database";
    # empty = the SQLite file at `path`.
    url: str = ""
    retention_days: int = Field(default=90, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if v:
            try:
                parse_database_url(v)
            except InvalidDatabaseUrl as exc:
                raise ValueError(exc.reason) from None
        return v

    @property
    def location(self) -> str:
        """What to open: `url` when set, else the SQLite file at `path`."""
        return self.url or self.path

    @property
    def database(self) -> DatabaseUrl:
        """The parsed location; its `display` is safe to log (no password)."""
        return parse_database_url(self.location)


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
    weights: dict[str, float] = {}
    prices: dict[str, float] = {}

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
