"""Configuration, read from the environment (``INVOICER_*``)."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiokafka.conn import collect_hosts
from aiokafka.helpers import create_ssl_context
from pydantic import (
    EmailStr,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from worker.documents.labels import DocumentLanguage
from worker.domain.parties import SELLER_ID, Address, ElectronicAddress, Seller
from worker.domain.tax_categories import has_vat_prefix
from worker.faults import parse as parse_fault_injection
from worker.messages.routing import INCOMING
from worker.messages.text import text_refusal
from worker.messages.values import EAS_SCHEMES, CountryCode, PhoneNumber, check_bic, check_iban

_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,}")
"""RFC 6750's b64token, at least 16 characters long, without its `=` padding (which
INVOICER_API_TOKENS uses to give a token its sellers)."""
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")

_ELECTRONIC_ADDRESS = re.compile(r"(?P<scheme>[0-9A-Z]{2,4}):(?P<id>\S{1,100})")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Server-side limits on every connection the worker opens: a statement, a lock wait,
    a transaction left idle (a worker paused or cut off while it holds the numbering lock
    must not freeze numbering for the others), and TCP keepalives so that the server ends a
    session whose client is gone within about a minute, releasing its locks."""

    statement_ms: int = 30_000
    lock_ms: int = 10_000
    idle_in_transaction_ms: int = 60_000

    def server_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": str(self.statement_ms),
            "lock_timeout": str(self.lock_ms),
            "idle_in_transaction_session_timeout": str(self.idle_in_transaction_ms),
            "tcp_keepalives_idle": "30",
            "tcp_keepalives_interval": "10",
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": "60000",
        }


class Topics(BaseSettings):
    """Topic names; each one can be overridden on its own."""

    model_config = SettingsConfigDict(
        env_prefix="INVOICER_TOPIC_", frozen=True, use_attribute_docstrings=True
    )

    orders_completed: str = "orders.completed"
    """In: `order-completed` (and `order-returned`)."""
    orders_returned: str = "orders.returned"
    """In: `order-returned`."""
    invoice_commands: str = "invoices.commands"
    """In: `invoice-command`."""
    sellers: str = "sellers"
    """In: `seller-updated` (compacted, keyed by sellerId)."""
    invoices_closed: str = "invoices.closed"
    """Out: `invoice-closed`."""
    notifications_requested: str = "notifications.requested"
    """Out: `notification-requested`."""
    command_results: str = "invoices.command-results"
    """Out: `invoice-command-result`."""
    invoice_events: str = "invoices.events"
    """Out: the change log of every invoice (`invoice-created`, `-updated`, `-deleted`,
    `-payment-recorded`, `-payment-refunded`, `-credited`, `-voided`, `-paid`,
    `-documents-ready`, `-documents-failed`) and `invoice-overdue`."""
    dead_letter: str = "invoicer.dead-letter"
    """Out: the records that could not be applied, unchanged, with why in their headers."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """The topics the worker consumes: each incoming event's (routing's INCOMING)."""
        fields = (field for route in INCOMING.values() for field in route.topics)
        return tuple(dict.fromkeys(getattr(self, field) for field in fields))

    @field_validator("*")
    @classmethod
    def _is_a_kafka_topic_name(cls, name: str) -> str:
        if not _TOPIC_NAME.match(name) or name in {".", ".."}:
            raise ValueError("a Kafka topic name is 1 to 249 of a-z A-Z 0-9 . _ -")
        return name

    @model_validator(mode="after")
    def _sellers_topic_is_its_own(self) -> Self:
        # Who may write orders or commands may not change a seller (its IBAN): the sellers
        # topic is read as the sellers' only when it is no other topic.
        others = {name for field, name in self if field != "sellers"}
        if self.sellers in others:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "shared_sellers_topic",
                            "the sellers topic must be no other topic of the worker: who"
                            " writes that one could change a seller",
                        ),
                        loc=("sellers",),
                        input=self.sellers,
                    )
                ],
            )
        return self


def text_is_accepted(cls: type, value: Any) -> Any:
    """A setting's text follows the door's rule (worker/messages/text.py): what a document
    could not carry is refused at start, not when the first document fails."""
    if isinstance(value, str) and (problem := text_refusal(value)) is not None:
        raise ValueError(problem)
    return value


class SellerSettings(BaseSettings):
    """The seller on every document (docs/contract.md, "Sellers, buyers and tax categories").
    Documents are made only when a name is set; then the address and VAT id are required."""

    model_config = SettingsConfigDict(
        env_prefix="INVOICER_SELLER_", frozen=True, use_attribute_docstrings=True
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    """The seller's name on every document. Setting it turns documents on; then the VAT id, address
    line, city, postal code and country are required, and an incomplete seller stops the start."""
    vat_id: str | None = Field(default=None, min_length=3, max_length=30)
    """The seller's VAT id, with its country prefix (NL123456789B01)."""
    address_line1: str | None = Field(default=None, min_length=1, max_length=200)
    """The seller's street and number."""
    city: str | None = Field(default=None, min_length=1, max_length=200)
    """The seller's city."""
    postal_code: str | None = Field(default=None, min_length=1, max_length=20)
    """The seller's postal code."""
    country: CountryCode | None = None
    """The seller's country, ISO 3166-1 alpha-2 (NL)."""
    registration_id: str | None = Field(default=None, min_length=1, max_length=100)
    """Optional: the seller's legal registration id (e.g. its chamber of commerce number)."""
    email: EmailStr | None = None
    """Optional: the seller's e-mail address on the documents."""
    phone: PhoneNumber | None = None
    """E.164; Peppol asks a German seller's invoices to a German buyer for it (DE-R-006)."""
    electronic_address: str | None = None
    """Optional: the seller's electronic address, `scheme:id` with a CEF EAS scheme
    (0088:5790000435975)."""
    iban: str | None = None
    """Optional: the account the documents ask to be paid to."""
    bic: str | None = None
    """Optional: the BIC of that account (8 or 11 letters and digits)."""

    _text_is_accepted = field_validator("*")(text_is_accepted)

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
        return None if value is None else check_iban(value)

    @field_validator("bic")
    @classmethod
    def _bic_is_well_formed(cls, value: str | None) -> str | None:
        return None if value is None else check_bic(value)

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

    def as_seller(self) -> Seller | None:
        """The seller each invoice keeps, None when unset."""
        if self.name is None:
            return None
        assert self.vat_id is not None, "a named seller is complete"
        electronic = None
        if self.electronic_address is not None:
            scheme, _, identifier = self.electronic_address.partition(":")
            electronic = ElectronicAddress(scheme, identifier)
        return Seller(
            name=self.name,
            vat_id=self.vat_id,
            address=Address(
                line1=self.address_line1,
                city=self.city,
                postal_code=self.postal_code,
                country=self.country,
            ),
            registration_id=self.registration_id,
            email=self.email,
            phone=self.phone,
            electronic_address=electronic,
            iban=self.iban,
            bic=self.bic,
        )


_REQUIRED_SELLER_FIELDS = ("vat_id", "address_line1", "city", "postal_code", "country")


def _configured_seller() -> SellerSettings:
    """The seller from INVOICER_SELLER_*; an error names the variable, as every setting's."""
    try:
        return SellerSettings()
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


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A bearer token of the read API and the sellers whose invoices it reads (None: every
    seller's, and those of invoices without a seller)."""

    token: str
    sellers: frozenset[str] | None = None


def _split(tokens: SecretStr) -> tuple[str, ...]:
    return tuple(token.strip() for token in tokens.get_secret_value().split(",") if token.strip())


def _api_token(entry: str, position: int) -> ApiToken:
    """`token` or `token=sellerA|sellerB`; a ValueError naming the entry by its position (never
    its text: it holds the token)."""
    token, scoped, sellers = entry.partition("=")
    token = token.strip()
    if not _BEARER_TOKEN.fullmatch(token):
        raise ValueError(
            f"token {position} (comma-separated): a token is at least 16 of"
            " A-Z a-z 0-9 - . _ ~ + / (never = , or |), optionally followed by =seller|seller"
        )
    if not scoped:
        return ApiToken(token)
    ids = [seller.strip() for seller in sellers.split("|")]
    if not all(SELLER_ID.fullmatch(seller) for seller in ids):
        raise ValueError(
            f"token {position} (comma-separated): after = come its sellers, separated by |,"
            " each 1 to 64 of A-Z a-z 0-9 . _ -"
        )
    return ApiToken(token, frozenset(ids))


def _api_tokens(tokens: SecretStr) -> tuple[ApiToken, ...]:
    parsed = tuple(_api_token(entry, n) for n, entry in enumerate(_split(tokens), start=1))
    sellers_of: dict[str, frozenset[str] | None] = {}
    for api_token in parsed:
        if sellers_of.setdefault(api_token.token, api_token.sellers) != api_token.sellers:
            raise ValueError("a token is listed twice with different sellers")
    return parsed


class DocumentFonts(BaseSettings):
    """The fonts for the scripts the bundled ones lack (docs/operations.md, "Documents"):
    validated when the worker starts, read again by each render process, which the worker
    starts with its own environment."""

    model_config = SettingsConfigDict(
        env_prefix="INVOICER_", frozen=True, use_attribute_docstrings=True
    )

    document_fonts: Annotated[tuple[FilePath, ...], NoDecode] = ()
    """Font files (TrueType, OpenType, collections), comma-separated, tried in order for a
    character the bundled fonts lack; the image sets it to the Noto fonts it installs."""

    @field_validator("document_fonts", mode="before")
    @classmethod
    def _document_fonts_are_listed(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


class Settings(DocumentFonts):
    """Everything the worker can be told. Defaults suit a local broker and database."""

    model_config = SettingsConfigDict(
        env_prefix="INVOICER_", frozen=True, use_attribute_docstrings=True
    )

    _text_is_accepted = field_validator("*")(text_is_accepted)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    """The Kafka brokers, host:port[,host:port...]."""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`, for every Kafka client (worker,
    relay, command line)."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    """`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`; required with `SASL_*` protocols."""
    kafka_sasl_username: str | None = None
    """The SASL user; required with `SASL_*` protocols."""
    kafka_sasl_password: SecretStr | None = None
    """The SASL password; required with `SASL_*` protocols; never shown."""
    kafka_ssl_cafile: FilePath | None = None
    """PEM file of the CA that signed the brokers' certificates; the system's CAs when unset."""
    kafka_ssl_certfile: FilePath | None = None
    """PEM file of a client certificate, for brokers that authenticate clients by TLS (with
    INVOICER_KAFKA_SSL_KEYFILE)."""
    kafka_ssl_keyfile: FilePath | None = None
    """PEM file of the client certificate's key (with INVOICER_KAFKA_SSL_CERTFILE)."""
    kafka_max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """The largest record the relay publishes: set it to the topics' max.message.bytes. A larger one
    is parked in the database, never lost."""
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/invoicer", repr=False
    )  # it may hold a password
    """The PostgreSQL database, postgresql://user[:password]@host[:port]/database (TLS:
    ?sslmode=verify-full&sslrootcert=/path/ca.pem); never shown."""
    database_statement_timeout_ms: int = Field(default=30_000, ge=100)
    """Server-side statement_timeout of every connection."""
    database_lock_timeout_ms: int = Field(default=10_000, ge=100)
    """lock_timeout of every connection."""
    database_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=1000)
    """idle_in_transaction_session_timeout of every connection: a worker paused or cut off
    mid-transaction frees the numbering lock after this."""
    database_migration_lock_timeout_ms: int = Field(default=5_000, ge=100)
    """How long `invoicer migrate` waits for a table lock before it fails (run it again), rather
    than queueing every worker's statements behind it."""
    outbox_backlog_limit: int = Field(default=100_000, ge=1)
    """Consumption pauses while more messages than this wait in the outbox (the broker refuses or is
    away), and resumes below it."""
    group_id: str = "invoicer"
    """The consumer group; a new group starts from the earliest offset."""
    http_port: int = Field(default=8080, ge=0, le=65535)
    """Port of /metrics, /healthz and /readyz (`invoicer run --processes N`: worker i on this port +
    i)."""
    http_max_connections: int = Field(default=256, ge=1)
    """Connections each HTTP port (the ops port, the read API's) holds at once; one more is
    closed as soon as it is accepted."""
    timezone: str = "UTC"
    """The IANA time zone of issue dates, and so of the number series' year."""
    payment_terms_days: int = Field(default=14, ge=0, le=365)
    """Payment terms when an order does not state them."""
    event_source: str = "/invoicer"
    """The CloudEvents `source` of every emitted event."""
    invoice_number_prefix: str = Field(
        default="INV", min_length=1, max_length=20, pattern=r"^[^/]+$"
    )
    """Prefix of invoice numbers (INV-2026-000001); no "/", which names a registered seller's
    series."""
    credit_note_number_prefix: str = Field(
        default="CN", min_length=1, max_length=20, pattern=r"^[^/]+$"
    )
    """Prefix of credit note numbers (CN-2026-000001)."""
    batch_max_records: int = Field(default=500, ge=1)
    """The most records applied in one database transaction."""
    enable_idempotence: bool = False
    """The Kafka idempotent producer; turn it on with Apache Kafka (Tansu does not support it)."""
    kafka_session_timeout_ms: int = Field(default=10_000, ge=6_000)
    """The consumer group's session timeout."""
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=0, le=10_000)
    """The longest the broker holds a fetch while it waits for records: the most a record waits
    before its batch starts (aiokafka's 500 ms default would dominate latency)."""
    liveness_stall_seconds: float = Field(default=120.0, gt=0)
    """/healthz fails when the worker is ready, has records waiting and has applied none for this
    long."""
    dunning_interval_seconds: float = Field(default=300.0, gt=0)
    """How often `invoicer run` scans for overdue invoices and reminders due."""
    reminder_days: Annotated[tuple[int, ...], NoDecode] = (7, 14, 30)
    """Days past due of payment reminder levels 1, 2, 3, …, comma-separated and increasing. A
    level is its days: a changed list never sends again a level an invoice was reminded of."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """`DEBUG`, `INFO`, `WARNING` or `ERROR`."""
    log_format: Literal["auto", "json", "console"] = "auto"
    """`json` (JSON lines), `console` (structlog's console rendering), or `auto`: console on a
    terminal, JSON otherwise."""
    fault_injection: str = ""
    """Test only, never in production: kills the worker at a chosen moment; empty, and so off, by
    default."""
    topics: Topics = Field(default_factory=Topics)
    seller: SellerSettings = Field(default_factory=_configured_seller)
    document_language: DocumentLanguage = "en"
    """The language of a document whose customer states none (or one not supported): en, de, fr or
    nl."""
    renderer_processes: int = Field(default=1, ge=1, le=64)
    """Processes rendering documents, at a lower CPU priority than the worker (each uses one core
    while it renders)."""
    render_timeout_seconds: float = Field(default=60.0, gt=0)
    """The longest one invoice's documents may take to render (a 1,000-line invoice takes well
    under a second, a fallback font for Chinese, say, about one more); past it the rendering
    process is replaced and the job is tried again later (see
    INVOICER_RENDER_RETRY_AFTER_SECONDS). A rendering cut short by a crash is taken up again
    this long plus 20 s (INVOICER_RENDER_LEASE_MARGIN_SECONDS) after it was claimed."""
    render_lease_margin_seconds: float = Field(default=20.0, ge=5)
    """How much longer than INVOICER_RENDER_TIMEOUT_SECONDS a claimed job stays leased to the
    renderer that claimed it: time for its group's renderings before it and its store. Past
    the lease (a renderer that died with it) another renders it; a store after the lease
    finds its claims no longer its own and stores nothing, so documents are never stored
    twice. At least 5 s: a lease that ran out before a busy machine's store would have its
    jobs rendered again and again."""
    render_max_attempts: int = Field(default=5, ge=1, le=100)
    """Renderings of one invoice's documents that may fail in a row; after the last the
    documents have failed for good (`invoice-documents-failed`) and the notifications that
    waited for them go out without them."""
    render_retry_after_seconds: float = Field(default=60.0, gt=0, le=3600)
    """How long a job whose rendering failed waits before it is tried again, doubled after
    each further failure, at most an hour."""
    api_port: int = Field(default=8000, ge=0, le=65535)
    """Where `invoicer api` serves the read API."""
    api_tokens: SecretStr = SecretStr("")
    """The bearer tokens the read API accepts, comma-separated, each at least 16 of A-Z a-z 0-9 - .
    _ ~ + /; `token=sellerA|sellerB` reads only those sellers' invoices, a token alone every
    invoice; `invoicer api` refuses to start without one; never shown."""

    @field_validator("api_tokens")
    @classmethod
    def _api_tokens_are_bearer_tokens(cls, tokens: SecretStr) -> SecretStr:
        _api_tokens(tokens)
        return tokens

    @property
    def api_bearer_tokens(self) -> tuple[ApiToken, ...]:
        return _api_tokens(self.api_tokens)

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

    @property
    def database_timeouts(self) -> Timeouts:
        return Timeouts(
            statement_ms=self.database_statement_timeout_ms,
            lock_ms=self.database_lock_timeout_ms,
            idle_in_transaction_ms=self.database_idle_in_transaction_timeout_ms,
        )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [
                f"INVOICER_{name.upper()}"
                for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"INVOICER_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                    + ", ".join(missing)
                )
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError(
                "INVOICER_KAFKA_SSL_CERTFILE and INVOICER_KAFKA_SSL_KEYFILE go together"
            )
        if self.kafka_security_protocol.endswith("SSL"):
            try:  # a file that is not PEM is refused at start, not at the first connection
                create_ssl_context(
                    cafile=None if self.kafka_ssl_cafile is None else str(self.kafka_ssl_cafile),
                    certfile=None
                    if self.kafka_ssl_certfile is None
                    else str(self.kafka_ssl_certfile),
                    keyfile=None if self.kafka_ssl_keyfile is None else str(self.kafka_ssl_keyfile),
                )
            except (ssl.SSLError, OSError) as error:
                raise ValueError(
                    "INVOICER_KAFKA_SSL_CAFILE, _CERTFILE or _KEYFILE cannot be used"
                    f" ({type(error).__name__}: {error.strerror or error})"
                ) from None
        return self

    @field_validator("database_url")
    @classmethod
    def _database_url_is_postgresql(cls, url: str) -> str:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected postgresql://user[:password]@host[:port]/database[?...]")
        return url

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
