"""Service settings, declared once (a pydantic-settings model): each with its type, default,
bounds and description, read by the app, the background worker and ``xinyong serve``, and listed
in docs/service.md (a test holds the two together).

Where a value comes from, the first that has it:

1. arguments given to :class:`ServiceSettings` (tests, and whatever builds settings in code);
2. a command's flag ``--set NAME=VALUE`` (``--set rate_per_second=10``; :func:`parse_flags`);
3. an environment variable ``XINYONG_<NAME>`` (``XINYONG_RATE_PER_SECOND=10``; a table as JSON,
   ``XINYONG_OBJECTION_DAYS_BY_SOURCE='{"tax": 20}'``);
4. the settings file, ``--settings FILE`` (TOML, ``name = value``; :class:`SettingsFile`);
5. the default.

:func:`load_settings` reads the last four and names the flag, the variable or the file, and the
setting, in every :class:`SettingsError`. A file is read strictly, as written by a person: an
unknown name is refused, and so is a value of another type (``burst = "10"``, ``grace_days =
true``); a flag's value and a variable are text, read as the setting's type.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, Field, NonNegativeInt, PlainValidator, PositiveInt, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from xinyong.domain.toml_text import parse_toml
from xinyong.due_process.masking import MaskingPolicy
from xinyong.ledger.cosigning import CosignatureVerifier

__all__ = [
    "ENV_PREFIX",
    "RETIRED",
    "SETTINGS",
    "ServiceSettings",
    "SettingsError",
    "SettingsFile",
    "load_settings",
    "parse_flags",
]

ENV_PREFIX = "XINYONG_"
"""Environment variables ``XINYONG_<NAME>`` set the setting ``name``."""


class SettingsError(ValueError):
    """Settings that cannot be used (the message names the file or variable, and the setting)."""


def _read_only(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(value))


def _masking_policy(value: object) -> MaskingPolicy:
    return value if isinstance(value, MaskingPolicy) else MaskingPolicy.from_table(value)


def _witness_keys(value: list[str]) -> list[str]:
    for key in value:
        CosignatureVerifier.from_text(key)  # ValueError naming what is wrong
    return value


class ServiceSettings(BaseSettings):
    """Settings of one running service, immutable once made."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    objection_days: NonNegativeInt = Field(
        default=30, description="Days an operator has to decide an objection (FCRA: 30)."
    )
    objection_days_by_source: Annotated[
        Mapping[str, NonNegativeInt], AfterValidator(_read_only)
    ] = Field(
        default_factory=lambda: MappingProxyType({}),
        description="Deadlines for particular sources, e.g. {tax = 20}. A scheme may set a "
        "shorter one for the records its rules match (the court list: objection_days = 15).",
    )
    suppress_on_lapse: bool = Field(
        default=True,
        description="Suppress a record whose objection was not decided by its deadline.",
    )
    correction_window_days: NonNegativeInt = Field(
        default=90, description="How far back a changed answer is pushed to relying parties."
    )
    grace_days: NonNegativeInt = Field(
        default=30, description="Days between the listing notice and publication of an entry."
    )
    webhook_claim_seconds: float = Field(
        default=120.0,
        ge=11.0,
        le=86_400.0,
        description="How long a background worker holds a webhook message it is sending (at "
        "least 11 s: a send is given up after 10 s; at most a day); a worker killed meanwhile "
        "leaves the message to another after this.",
    )
    repair_days: NonNegativeInt = Field(
        default=18,
        description="Days an operator should take to decide a repair request (the console "
        "highlights older ones); Credit China's 2025 workflow: feedback in 10 working days, a "
        "decision in 3 more.",
    )
    review_days: NonNegativeInt = Field(
        default=15,
        description="Days an operator has to decide a request for human review of a decision "
        "or listing (GDPR Art. 12(3): one month; PIPL Art. 50 asks for a timely answer).",
    )
    appeal_days: NonNegativeInt = Field(
        default=15,
        description="Days after an objection or repair decision within which the subject may "
        "appeal it (once); the appeal is decided by another operator, within review_days.",
    )
    dispute_extension_days: NonNegativeInt = Field(
        default=15,
        description="Days an objection's deadline is extended, once, when the subject adds "
        "information before it (FCRA §1681i(a)(1)(B)).",
    )
    masking: Annotated[MaskingPolicy, PlainValidator(_masking_policy)] = Field(
        default_factory=MaskingPolicy,
        description="What the public pages show of a listed subject: person_id "
        "(region-and-check, hide-last-four, hidden), person_name (family-name, full, hidden), "
        "organization (full, name-only).",
    )
    session_minutes: NonNegativeInt = Field(
        default=480,
        description="How long a web portal sign-in lasts; revoking the key ends it at once.",
    )
    rate_per_second: float = Field(
        default=50.0, ge=0, description="Checks per second per relying party (token bucket)."
    )
    burst: NonNegativeInt = Field(
        default=100, description="Bucket size: checks a relying party may send at once."
    )
    redis_url: str = Field(
        default="",
        description="Redis holding the rate limits, shared by every web worker (e.g. "
        "redis://127.0.0.1:6379/0). Without it the limits are divided between the workers.",
    )
    threads: NonNegativeInt = Field(
        default=8,
        description="Worker threads for database work (requests wait for a free one); more "
        "suits a remote PostgreSQL, fewer a local SQLite file.",
    )
    daily_refresh: bool = Field(
        default=True,
        description="Background workers store each day's standings of the active schemes (as "
        "`xinyong standings refresh` does), so that checks are answered from them.",
    )
    read_connections: PositiveInt = Field(
        default=4,
        description="PostgreSQL: connections per web worker that read stored standings for "
        "checks from the event loop (each request holds one for one statement).",
    )
    ingest_process: bool = Field(
        default=True,
        description="Append submitted records (POST /v1/records) in a separate worker process, "
        "so that checks are not slowed down while a batch is appended and its subjects "
        "refreshed.",
    )
    inquiry_checkpoint_seconds: float = Field(
        default=10.0,
        ge=0.05,
        le=3600.0,
        description="A SQLite ledger: how often the inquiry log's write-ahead log is "
        "checkpointed (a thread copies it into the log's file, then pauses the log's writes for "
        "the last pages while checks are answered from a spill file). Longer lets the "
        "write-ahead log grow; shorter pauses more often.",
    )
    max_body_bytes: NonNegativeInt = Field(
        default=16 << 20,
        description="The largest request body accepted (413 beyond it, refused before it is "
        "read or parsed); a batch of 10,000 records of 1.5 KB fits.",
    )
    body_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a request body may take to arrive in between two of its parts "
        "(408 after).",
    )
    cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long keys, registrations and active schemes are cached; changes made "
        "through the service apply at once, changes made elsewhere (the CLI) after at most "
        "this long.",
    )
    signing_key: str = Field(
        default="",
        description="The ledger's Ed25519 signing key file (C2SP signed-note private key), "
        "created on first use with mode 0600. Default: beside a SQLite ledger (FILE.key), else "
        "$XDG_CONFIG_HOME/xinyong/keys/LEDGER_ID.key. Never stored in the database.",
    )
    ledger_origin: str = Field(
        default="",
        description="The name of a signing key created here, which is the origin line of its "
        "checkpoints (a schema-less URL such as credit.example.gov.cn/ledger). Default: "
        "xinyong.local/ledger/LEDGER_ID.",
    )
    witnesses: Annotated[list[str], AfterValidator(_witness_keys)] = Field(
        default=[],
        description="The verifier keys of the witnesses whose cosignatures the service takes "
        "(POST /v1/ledger/cosignatures) and publishes with its checkpoints: each "
        "name+keyid+base64(0x04 || key), as `xinyong ledger witness --cosign` prints it.",
    )
    today: Callable[[], date] = Field(
        default=date.today,
        exclude=True,
        description="The clock (tests move it forward to pass deadlines); not a setting: no "
        "file or variable sets it.",
    )

    def objection_deadline(self, source: str) -> int:
        """Days to decide an objection to a record of ``source``."""
        return self.objection_days_by_source.get(source, self.objection_days)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``--set`` flags, then ``XINYONG_*`` variables, then the file
        :func:`load_settings` reads; no ``.env`` file and no secrets directory."""
        file = _FILE.get()
        sources = (init_settings, _Flags(settings_cls), _Environment(settings_cls))
        return (*sources, *(() if file is None else (file,)))


_CLOCK = "today"
SETTINGS: tuple[str, ...] = tuple(name for name in ServiceSettings.model_fields if name != _CLOCK)
"""The settings' names in declaration order (the clock is not one)."""

_FILE: ContextVar[SettingsFile | None] = ContextVar("xinyong_settings_file", default=None)
"""The settings file of the :func:`load_settings` call in progress (a source needs it, and
pydantic-settings builds its sources in a class method)."""


class _Environment(EnvSettingsSource):
    """``XINYONG_<NAME>`` variables, for the settings only (never the clock)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name == _CLOCK:
            return None, field_name, False
        return super().get_field_value(field, field_name)


_FLAGS: ContextVar[Mapping[str, str]] = ContextVar(
    "xinyong_settings_flags", default=MappingProxyType({})
)
"""The ``--set`` flags of the :func:`load_settings` call in progress, by setting."""


class _Flags(_Environment):
    """A command's ``--set NAME=VALUE`` flags, read as the variables are (text, as the
    setting's type), over them."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {f"{ENV_PREFIX}{name}".lower(): value for name, value in _FLAGS.get().items()}


def parse_flags(flags: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` flags by setting (the last of a name counts); SettingsError for a flag
    without ``=`` or a name that is not a setting."""
    parsed: dict[str, str] = {}
    for flag in flags:
        name, equals, value = flag.partition("=")
        name = name.strip()
        if not equals:
            raise SettingsError(f"--set {flag}: not NAME=VALUE")
        if name in RETIRED:
            raise SettingsError(f"--set {flag}: {name} is no longer a setting: {RETIRED[name]}")
        if name not in _STRICT:
            known = ", ".join(SETTINGS)
            raise SettingsError(f"--set {flag}: unknown setting {name!r} (known: {known})")
        parsed[name] = value
    return parsed


def _strict(name: str) -> TypeAdapter[Any]:
    """The setting's type with its bounds and validators (``Annotated``)."""
    return TypeAdapter(ServiceSettings.model_fields[name].rebuild_annotation())


RETIRED = MappingProxyType(
    {
        "inquiry_process": "each web worker writes the inquiry log itself; a writer process of "
        "its own showed no gain in throughput or latency (docs/benchmarks.md, 2026-12-06): "
        "remove the line",
    }
)
"""Settings that were and are no more, with what to do about a file that still names one."""

_STRICT = {name: _strict(name) for name in SETTINGS}
"""Each setting's type and bounds, checked strictly: how a value in the file is read."""


def _problem(name: str, error: Mapping[str, Any]) -> str:
    """``name`` (with the key of a table's value) and what is wrong with its value."""
    where = ".".join([name, *(str(part) for part in error["loc"])])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "value_error":  # a message of ours (the masking policy's)
        return f"{where}: {message}"
    return f"{where}: {message}, not {error['input']!r}"


class SettingsFile(TomlConfigSettingsSource):
    """A settings TOML file of ``name = value`` pairs, every name a setting and every value of
    the setting's type (else :class:`SettingsError` naming the file and the setting)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        if not path.is_file():
            raise SettingsError(f"{path}: no such file")
        super().__init__(settings_cls, toml_file=path)
        for name, value in self.toml_data.items():
            if name in RETIRED:
                raise SettingsError(f"{path}: {name} is no longer a setting: {RETIRED[name]}")
            if name not in _STRICT:
                known = ", ".join(SETTINGS)
                raise SettingsError(f"{path}: unknown setting {name!r} (known: {known})")
            try:
                _STRICT[name].validate_python(value, strict=True)
            except PydanticValidationError as exc:
                raise SettingsError(f"{path}: {_problem(name, exc.errors()[0])}") from exc

    def _read_file(self, path: Path | Traversable) -> dict[str, Any]:
        """The file, parsed as every xinyong TOML file is (:func:`parse_toml`)."""
        try:
            return parse_toml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc


def load_settings(
    path: Path | None = None, flags: Mapping[str, str] = MappingProxyType({})
) -> ServiceSettings:
    """The settings: ``flags`` (:func:`parse_flags`) over ``XINYONG_<NAME>`` environment
    variables over the TOML file at ``path`` (when given) over the defaults. SettingsError names
    the flag, variable or file, and the setting."""
    file = None if path is None else SettingsFile(ServiceSettings, path)
    with _reading(file, flags):
        try:
            return ServiceSettings()
        except PydanticValidationError as exc:
            raise SettingsError("; ".join(_explained(exc, path, flags))) from exc


@contextmanager
def _reading(file: SettingsFile | None, flags: Mapping[str, str]) -> Iterator[None]:
    token, flagged = _FILE.set(file), _FLAGS.set(flags)
    try:
        yield
    finally:
        _FILE.reset(token)
        _FLAGS.reset(flagged)


def _explained(
    exc: PydanticValidationError, path: Path | None, flags: Mapping[str, str]
) -> Iterator[str]:
    """Each problem with where its value came from: a flag, else a variable, else the file."""
    variables = {name.upper() for name in os.environ}
    for error in exc.errors():
        name, *inside = error["loc"] or ("",)
        variable = f"{ENV_PREFIX}{name}".upper()
        if name in flags:
            where = f"--set {name}"
        else:
            where = variable if variable in variables else str(path)
        yield f"{where}: {_problem(str(name), {**error, 'loc': inside})}"
