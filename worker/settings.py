"""Configuration, read from the environment (``INVOICER_*``)."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiokafka.conn import collect_hosts
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from worker.faults import parse as parse_fault_injection


class Topics(BaseSettings):
    """Topic names; each one can be overridden on its own."""

    model_config = SettingsConfigDict(env_prefix="INVOICER_TOPIC_", frozen=True)

    orders_completed: str = "orders.completed"
    invoice_commands: str = "invoices.commands"
    invoices_closed: str = "invoices.closed"
    notifications_requested: str = "notifications.requested"
    command_results: str = "invoices.command-results"
    invoice_events: str = "invoices.events"
    dead_letter: str = "invoicer.dead-letter"


class Settings(BaseSettings):
    """Everything the worker can be told. Defaults suit a local broker and database."""

    model_config = SettingsConfigDict(env_prefix="INVOICER_", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/invoicer"
    group_id: str = "invoicer"
    http_port: int = Field(default=8080, ge=0, le=65535)
    timezone: str = "UTC"
    payment_terms_days: int = Field(default=14, ge=0, le=365)
    event_source: str = "/invoicer"
    invoice_number_prefix: str = Field(default="INV", min_length=1, max_length=20)
    credit_note_number_prefix: str = Field(default="CN", min_length=1, max_length=20)
    batch_max_records: int = Field(default=500, ge=1)
    enable_idempotence: bool = False
    kafka_session_timeout_ms: int = Field(default=10_000, ge=6_000)
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=0, le=10_000)
    """How long the broker may hold a fetch while it waits for records: what a record may
    wait before its batch starts (aiokafka's 500 ms default would dominate latency)."""
    liveness_stall_seconds: float = Field(default=120.0, gt=0)
    """/healthz fails when the worker is ready, has records waiting and has applied none
    for this long."""
    dunning_interval_seconds: float = Field(default=300.0, gt=0)
    """How often the scan for overdue invoices and reminders runs."""
    reminder_days: Annotated[tuple[int, ...], NoDecode] = (7, 14, 30)
    """Days past due of each payment reminder level, comma-separated: "7,14,30"."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    fault_injection: str = ""
    """Test-only fault hooks (worker/faults.py); empty, and so off, in production."""
    topics: Topics = Field(default_factory=Topics)

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_servers_are_host_port_pairs(cls, servers: str) -> str:
        try:
            addresses = collect_hosts(servers, randomize=False)  # as the Kafka clients read it
        except ValueError:
            addresses = []
        if not addresses or any(not host or not 0 < port < 65536 for host, port, _ in addresses):
            raise ValueError("expected host:port[,host:port...], e.g. kafka-1:9092,kafka-2:9092")
        return servers

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known IANA time zone, e.g. UTC or Europe/Amsterdam") from None
        return name

    @field_validator("reminder_days", mode="before")
    @classmethod
    def _reminder_days_are_listed(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("reminder_days")
    @classmethod
    def _reminder_days_grow(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(day < 1 for day in days) or list(days) != sorted(set(days)):
            raise ValueError("expected increasing whole days past due, e.g. 7,14,30")
        return days

    @field_validator("fault_injection")
    @classmethod
    def _fault_injection_is_valid(cls, spec: str) -> str:
        if spec:
            parse_fault_injection(spec)  # refused at start, before anything is opened
        return spec
