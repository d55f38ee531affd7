"""Configuration, read from the environment (``INVOICER_*``)."""

from __future__ import annotations

import re
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiokafka.conn import collect_hosts
from pydantic import EmailStr, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.faults import parse as parse_fault_injection
from worker.messages.values import EAS_SCHEMES, CountryCode, has_vat_prefix

DOCUMENT_LANGUAGES = ("en", "de", "fr", "nl")
DocumentLanguage = Literal["en", "de", "fr", "nl"]

_ELECTRONIC_ADDRESS = re.compile(r"(?P<scheme>[0-9A-Z]{2,4}):(?P<id>\S{1,100})")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


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


class Seller(BaseSettings):
    """The seller on every document (CONTRACT.md v2, "Sellers, buyers and tax categories").
    Documents are made only when a name is set; then the address and VAT id are required."""

    model_config = SettingsConfigDict(env_prefix="INVOICER_SELLER_", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    vat_id: str | None = Field(default=None, min_length=3, max_length=30)
    address_line1: str | None = Field(default=None, min_length=1, max_length=200)
    city: str | None = Field(default=None, min_length=1, max_length=200)
    postal_code: str | None = Field(default=None, min_length=1, max_length=20)
    country: CountryCode | None = None
    registration_id: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = None
    electronic_address: str | None = None
    """`scheme:id`, the scheme an EAS code, e.g. 0088:5790000435975."""
    iban: str | None = None
    bic: str | None = None

    @field_validator("electronic_address")
    @classmethod
    def _electronic_address_has_a_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _ELECTRONIC_ADDRESS.fullmatch(value)
        if match is None or match["scheme"] not in EAS_SCHEMES:
            raise ValueError("expected scheme:id with a CEF EAS scheme, e.g. 0088:5790000435975")
        return value

    @field_validator("vat_id")
    @classmethod
    def _vat_id_has_its_prefix(cls, value: str | None) -> str | None:
        if value is not None and not has_vat_prefix(value):
            raise ValueError("must start with its country prefix, e.g. NL123456789B01")
        return value

    @field_validator("iban")
    @classmethod
    def _iban_checks(cls, value: str | None) -> str | None:
        if value is None:
            return None
        iban = value.replace(" ", "").upper()
        digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
        if not _IBAN.fullmatch(iban) or int(digits) % 97 != 1:
            raise ValueError("not a valid IBAN")
        return iban

    @field_validator("bic")
    @classmethod
    def _bic_is_well_formed(cls, value: str | None) -> str | None:
        if value is not None and not _BIC.fullmatch(value):
            raise ValueError("not a valid BIC (8 or 11 letters and digits)")
        return value

    @model_validator(mode="after")
    def _complete_when_named(self) -> Self:
        if self.name is None:
            return self
        missing = [name for name in _REQUIRED_SELLER_FIELDS if getattr(self, name) is None]
        if missing:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "seller_incomplete", "required when INVOICER_SELLER_NAME is set"
                        ),
                        loc=(name,),
                        input=None,
                    )
                    for name in missing
                ],
            )
        return self

    @property
    def configured(self) -> bool:
        return self.name is not None

    def snapshot(self) -> dict[str, Any] | None:
        """The seller as stored with each invoice (the contract's names), None when unset."""
        if self.name is None:
            return None
        seller: dict[str, Any] = {
            "name": self.name,
            "vatId": self.vat_id,
            "addressLine1": self.address_line1,
            "city": self.city,
            "postalCode": self.postal_code,
            "country": self.country,
            "registrationId": self.registration_id,
            "email": self.email,
            "iban": self.iban,
            "bic": self.bic,
        }
        if self.electronic_address is not None:
            scheme, _, identifier = self.electronic_address.partition(":")
            seller["electronicAddress"] = {"scheme": scheme, "id": identifier}
        return {name: value for name, value in seller.items() if value is not None}


_REQUIRED_SELLER_FIELDS = ("vat_id", "address_line1", "city", "postal_code", "country")


def _configured_seller() -> Seller:
    """The seller from INVOICER_SELLER_*; an error names the variable, as every setting's."""
    try:
        return Seller()
    except ValidationError as error:
        raise ValidationError.from_exception_data(
            "Settings",
            [
                InitErrorDetails(
                    type=PydanticCustomError("seller", problem["msg"]),
                    loc=(f"seller_{problem['loc'][0]}",),
                    input=problem["input"],
                )
                for problem in error.errors()
            ],
        ) from None


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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    fault_injection: str = ""
    """Test-only fault hooks (worker/faults.py); empty, and so off, in production."""
    topics: Topics = Field(default_factory=Topics)
    seller: Seller = Field(default_factory=_configured_seller)
    document_language: DocumentLanguage = "en"
    """The language of a document whose customer states none (or one not supported)."""
    renderer_processes: int = Field(default=1, ge=1, le=64)
    """Processes rendering documents (each uses one core while it renders)."""

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

    @field_validator("fault_injection")
    @classmethod
    def _fault_injection_is_valid(cls, spec: str) -> str:
        if spec:
            parse_fault_injection(spec)  # refused at start, before anything is opened
        return spec
