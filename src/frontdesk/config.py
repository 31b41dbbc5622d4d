"""Process configuration: ``FRONTDESK_*`` environment variables and an optional TOML file.

Per-workspace settings live in the database; this is only what one process needs to start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./frontdesk.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL; sqlite or postgresql")
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Field(default=Path("./frontdesk-data"), description="attachments and other stored files")
    log_format: str = Field(default="auto", description="'json', 'text', or 'auto' (text on a terminal)")
    log_level: str = "INFO"
    sqlite_busy_timeout_ms: int = 30_000
    db_pool_size: int = 20
    max_attachment_bytes: int = 25 * 1024 * 1024
    worker: bool = Field(default=True, description="run the worker's sweeps inside `frontdesk serve`")
    gc_freeze: bool = Field(default=True, description="after start-up (and each Discord READY), freeze the "
                            "objects made so far so that full garbage collections skip them (runtime.py)")
    # --- secrets at rest, webhooks (issue 4) ---
    secret_key: str | None = Field(default=None, description="key(s) that encrypt stored secrets, comma-separated, "
                                   "newest first; else a key file in data_dir")
    webhook_allow_http: bool = Field(default=False, description="allow http:// webhook URLs (https only otherwise)")
    webhook_allow_private: bool = Field(default=False, description="allow webhook URLs on private, loopback or "
                                        "link-local addresses")
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60, description="a webhook attempt fails "
                                           "unless answered with 2xx within this time")
    # --- how long finished outbox rows are kept (worker/retention.py) ---
    outbox_keep_days: int = Field(default=7, ge=1, le=3650, description="days a delivered outbox row (a "
                                  "webhook sent, a Discord change made) is kept after it succeeded")
    outbox_failed_keep_days: int = Field(default=30, ge=1, le=3650, description="days an outbox row that was "
                                         "given up on is kept, for looking into why")
    webhook_log_keep_days: int = Field(default=30, ge=1, le=3650, description="days the webhook delivery log "
                                       "keeps a delivery and its attempts")
    # --- engineering links: Jira, Linear, Slack (issue 4) ---
    integrations_allow_http: bool = Field(default=False, description="allow http:// addresses for Jira, Linear "
                                          "and Slack connections (https only otherwise); for tests and local stand-ins")
    public_url: str | None = Field(default=None, description="the desk's address as people reach it, for links "
                                   "back from issues pushed to Jira or Linear (e.g. https://support.example.com)")
    # --- the Discord bot (issue 5) ---
    discord_token: SecretStr | None = Field(default=None, description="the bot's token; when set, `frontdesk "
                                            "serve` also runs the Discord bot (never logged)")

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("FRONTDESK_CONFIG", "frontdesk.toml")
        if Path(toml_path).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def normalise_database_url(value: str) -> str:
    """Accept the plain URLs people paste and pick the async driver frontdesk uses."""
    if value.startswith("postgres://"):
        value = "postgresql://" + value[len("postgres://"):]
    if value.startswith("postgresql://"):
        value = "postgresql+asyncpg://" + value[len("postgresql://"):]
    if value.startswith("sqlite:///") or value == "sqlite://":
        value = "sqlite+aiosqlite" + value[len("sqlite"):]
    if not (value.startswith("sqlite+aiosqlite:") or value.startswith("postgresql+asyncpg:")):
        raise ValueError("FRONTDESK_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
    return value


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
