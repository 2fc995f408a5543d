"""An experiment file: the population, the horizon, the schemes to compare, and the sweep.

```toml
name = "bundled pilots compared"
seed = 7
replicates = 2
start = 2024-01-01
years = 5
step = "1m"

[population]
people = 100000
organizations = 2000
income_shares = { low = 0.3, middle = 0.5, high = 0.2 }    # optional: as synthesized

[behaviour]                # optional: every parameter has a documented default
error_rate = 0.02

[[schemes]]
pilot = "rongcheng"        # a bundled pilot ...
[[schemes]]
file = "my-scheme.toml"    # ... or a scheme file beside the experiment file (or below it)
```

A sweep varies one scheme over a grid and ranks the variants against an objective (see
:mod:`xinyong.lab.sweep`). Errors name the file and the key.
"""

from __future__ import annotations

import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xinyong.domain.durations import parse_duration
from xinyong.domain.toml_text import parse_toml
from xinyong.lab.behaviour import Behaviour
from xinyong.pilots import bundled_pilots
from xinyong.schemes.issues import SchemeError
from xinyong.schemes.load import LoadedScheme, load_scheme, scheme_hash
from xinyong.schemes.model import Scheme
from xinyong.synth.population import INCOME_BANDS, REGIONS

__all__ = [
    "EXPERIMENTS_DIR",
    "Constraint",
    "Experiment",
    "ExperimentError",
    "Population",
    "SchemeRef",
    "SocietyVariant",
    "Sweep",
    "SweepParameter",
    "bundled_experiments",
    "load_experiment",
    "resolve_scheme",
    "setting",
    "variant_of",
]

EXPERIMENTS_DIR = Path(__file__).with_name("experiments")


class ExperimentError(ValueError):
    """An experiment file that cannot be run (the message names the file and key)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Population(_Frozen):
    """Who is simulated: people and organizations, with optional group shares."""

    people: int = Field(ge=1, le=20_000_000)
    organizations: int = Field(default=0, ge=0, le=2_000_000)
    income_shares: dict[str, float] | None = None
    """People's income bands (low, middle, high); default: the synthetic regions' mixes."""
    region_shares: dict[str, float] | None = None
    """Region labels (north, south, east, west, central); default: the synthetic shares."""

    @model_validator(mode="after")
    def _shares(self) -> Population:
        for name, shares, known in (
            ("income_shares", self.income_shares, INCOME_BANDS),
            ("region_shares", self.region_shares, tuple(r.label for r in REGIONS)),
        ):
            if shares is None:
                continue
            unknown = sorted(set(shares) - set(known))
            if unknown:
                raise ValueError(
                    f"{name}: unknown group {unknown[0]!r} (known: {', '.join(known)})"
                )
            if any(v < 0 for v in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
                raise ValueError(f"{name} must be non-negative and sum to 1")
        return self


class SchemeRef(_Frozen):
    """A bundled pilot by id, or a scheme file relative to the experiment file."""

    pilot: str | None = None
    file: str | None = None
    label: str | None = None
    """How the report names it (default: the scheme id)."""
    changes: dict[str, float | int | str | bool | list[str]] = {}
    """Settings changed from the file, by path (``"peer.algorithm" = "bayesian"``,
    ``"peer.safeguards.retaliation_weight" = 1``): a variant without a file of its own."""

    @model_validator(mode="after")
    def _one(self) -> SchemeRef:
        if (self.pilot is None) == (self.file is None):
            raise ValueError("give exactly one of pilot or file")
        return self


class SweepParameter(_Frozen):
    """One axis of the grid: a rule's ``points`` or ``valid_for``, a grade's ``min``, or a
    setting of the ``[peer]`` section (``peer = "min_ratings"``, ``peer =
    "safeguards.retaliation_weight"``)."""

    rule: str | None = None
    grade: str | None = None
    peer: str | None = None
    field: Literal["points", "valid_for", "min"] | None = None
    values: tuple[float | int | str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _target(self) -> SweepParameter:
        if sum(x is not None for x in (self.rule, self.grade, self.peer)) != 1:
            raise ValueError("give exactly one of rule, grade or peer")
        if self.peer is not None:
            if self.field is not None:
                raise ValueError("a peer setting has no field: name it in peer")
            return self
        if self.field is None:
            raise ValueError("give the field to sweep")
        if self.grade is not None and self.field != "min":
            raise ValueError("a grade's swept field must be min")
        if self.rule is not None and self.field == "min":
            raise ValueError("a rule's swept field must be points or valid_for")
        return self

    @property
    def label(self) -> str:
        """``rule contract-default points`` / ``grade A min`` / ``peer min_ratings``."""
        if self.peer is not None:
            return f"peer {self.peer}"
        return f"rule {self.rule} {self.field}" if self.rule else f"grade {self.grade} min"


class Constraint(_Frozen):
    """``metric op value``, e.g. ``wrongful_listing_rate < 0.01``."""

    metric: str
    op: Literal["<", "<=", ">", ">="]
    value: float

    def holds(self, observed: float) -> bool:
        """Whether an observed value satisfies the constraint (NaN never does)."""
        if math.isnan(observed):
            return False
        return {
            "<": observed < self.value,
            "<=": observed <= self.value,
            ">": observed > self.value,
            ">=": observed >= self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


class Sweep(_Frozen):
    """Vary one scheme over a grid; rank the variants by an objective under constraints."""

    scheme: SchemeRef
    parameters: tuple[SweepParameter, ...] = Field(min_length=1)
    maximize: str | None = None
    minimize: str | None = None
    constraints: tuple[Constraint, ...] = ()

    @model_validator(mode="after")
    def _objective(self) -> Sweep:
        if (self.maximize is None) == (self.minimize is None):
            raise ValueError("give exactly one of maximize or minimize")
        return self


class SocietyVariant(_Frozen):
    """One society the arms run in: the experiment's ``[behaviour]`` with some parameters
    changed (``[[societies]]``), e.g. with retaliation, or a sybil attack of some budget."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label: str = Field(min_length=1)
    attack: str | None = None
    """Attack variants plotted together: the name of the attack this variant belongs to."""
    budget: float | None = None
    """The attacker's budget in this variant (fake accounts, ring members): the plot's x."""

    def behaviour(self, base: Behaviour) -> Behaviour:
        """``base`` with this variant's parameters (an unknown one is an error)."""
        changes = dict(self.model_extra or {})
        unknown = sorted(set(changes) - set(Behaviour.model_fields))
        if unknown:
            raise ValueError(f"unknown behaviour parameter {unknown[0]!r}")
        return Behaviour.model_validate({**base.model_dump(), **changes})


class Experiment(_Frozen):
    """A whole experiment file."""

    name: str
    description: str = ""
    seed: int = Field(default=0, ge=0)
    replicates: int = Field(default=1, ge=1, le=100)
    start: date = date(2024, 1, 1)
    years: int = Field(default=5, ge=1, le=30)
    step: str = "1m"
    population: Population
    behaviour: Behaviour = Behaviour()
    groups: tuple[Literal["income_band", "region"], ...] = ("income_band", "region")
    """Group dimensions for disparate impact (people only)."""
    schemes: tuple[SchemeRef, ...] = ()
    sweep: Sweep | None = None
    summary_months: int = Field(default=12, ge=1)
    """The summary table averages each metric over this many final months."""
    gate: str | None = None
    """A measure (e.g. ``board-flight``) whose absence is a gate denial: peer arms then run
    beside their counterfactual, and report wrongful denials and cascades."""
    societies: tuple[SocietyVariant, ...] = ()
    """Societies the arms run in, each a variant of ``[behaviour]`` (default: that one)."""
    baseline: str | None = None
    """The arm the report compares the others with (default: the first)."""

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        days = parse_duration(self.step)
        if days < 1 or days > 366:
            raise ValueError(f"step must be between 1 day and 1 year (got {self.step!r})")
        if not self.schemes and self.sweep is None:
            raise ValueError("name at least one scheme in [[schemes]] or a [sweep]")
        for index, society in enumerate(self.societies):
            try:
                society.behaviour(self.behaviour)
            except ValueError as exc:
                raise ValueError(f"societies[{index}] ({society.label}): {exc}") from None
        labels = [s.label for s in self.societies]
        if len(set(labels)) != len(labels):
            raise ValueError("two societies have the same label")
        return self

    def variants(self) -> tuple[tuple[str, Behaviour], ...]:
        """``(label, behaviour)`` of each society; one unnamed one without ``[[societies]]``."""
        if not self.societies:
            return (("", self.behaviour),)
        return tuple((s.label, s.behaviour(self.behaviour)) for s in self.societies)

    @property
    def step_days(self) -> int:
        """The step in days."""
        return parse_duration(self.step)


def load_experiment(path: Path) -> Experiment:
    """Read and validate an experiment file."""
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"{path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path}: {'.'.join(str(part) for part in error['loc']) or 'top level'}: "
            f"{_message(error)}"
            for error in exc.errors()
        ]
        raise ExperimentError("\n".join(problems)) from None


def _message(error: object) -> str:
    found = dict(error) if isinstance(error, dict) else {}
    if found.get("type") == "extra_forbidden":
        return "unknown key"
    if found.get("type") == "missing":
        return "required key is missing"
    text = str(found.get("msg", "invalid"))
    return text.removeprefix("Value error, ")


def resolve_scheme(ref: SchemeRef, base: Path) -> LoadedScheme:
    """Load a referenced scheme (a bundled pilot, or a file relative to ``base``)."""
    if ref.pilot is not None:
        pilots = bundled_pilots()
        if ref.pilot not in pilots:
            raise ExperimentError(f"no bundled pilot {ref.pilot!r} (bundled: {', '.join(pilots)})")
        path = pilots[ref.pilot]
    else:
        path = scheme_file(str(ref.file), base)
    try:
        loaded = load_scheme(path)
    except SchemeError as exc:
        raise ExperimentError("\n".join(str(issue) for issue in exc.issues)) from None
    if not ref.changes:
        return loaded
    point = loaded.scheme.model_dump(mode="python")
    for name, value in ref.changes.items():
        target, key = setting(point, loaded.scheme.id, name)
        target[key] = value
    return variant_of(point, loaded.scheme.id, f"changes {ref.changes}")


def setting(scheme: dict[str, Any], scheme_id: str, path: str) -> tuple[dict[str, Any], str]:
    """In a scheme's data, the mapping holding the setting at ``path`` (``peer.min_ratings``,
    ``peer.safeguards.collusion_size``) and its key; an unknown path is an error."""
    *parents, key = path.split(".")
    target: Any = scheme
    for part in parents:
        target = target.get(part) if isinstance(target, dict) else None
    if not isinstance(target, dict) or key not in target:
        raise ExperimentError(f"scheme {scheme_id} has no setting {path!r}")
    return target, key


def variant_of(point: dict[str, Any], scheme_id: str, what: str) -> LoadedScheme:
    """A changed scheme's data as a scheme of its own: its own version hash, and its canonical
    JSON as its text (it has no TOML file)."""
    try:
        scheme = Scheme.model_validate(point, strict=False)
    except ValueError as exc:
        raise ExperimentError(f"scheme {scheme_id} with {what} is not valid: {exc}") from None
    text = orjson.dumps(scheme.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode()
    return LoadedScheme(scheme, text, None, scheme_hash(scheme))


def scheme_file(name: str, base: Path) -> Path:
    """The scheme file an experiment names: a ``.toml`` file in the experiment's directory (or
    below it), or else a bundled pilot's file by name. An absolute path, or one that leaves the
    directory, is refused: an experiment from somebody else must not make the lab read (and
    quote, in its errors) any file the user can read."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or relative.suffix != ".toml":
        raise ExperimentError(
            f"scheme file {name!r}: name a .toml file beside the experiment (no absolute path, "
            "no '..'), or a bundled pilot with pilot = ID"
        )
    root = base.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):  # a symbolic link that leads out
        raise ExperimentError(f"scheme file {name!r} leads out of {root}")
    if path.is_file():
        return path
    bundled = {p.name: p for p in bundled_pilots().values()}
    if relative.name in bundled and len(relative.parts) == 1:
        return bundled[relative.name]
    raise ExperimentError(f"scheme file {name!r}: no such file in {root} or among the pilots")


def bundled_experiments() -> dict[str, Path]:
    """The example experiments shipped with xinyong, by file stem."""
    return {path.stem: path for path in sorted(EXPERIMENTS_DIR.glob("*.toml"))}
