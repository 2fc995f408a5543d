"""``xinyong serve``, ``xinyong worker``, ``xinyong keys``, ``xinyong relying``,
``xinyong report`` and ``xinyong standings``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from xinyong.application.keys import Role, create_key, list_keys, revoke_key
from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    err,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
)
from xinyong.due_process.transparency import transparency_report

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Connection

    from xinyong.application.context import Context
    from xinyong.application.credit_report import SealedReport
    from xinyong.application.settings import ServiceSettings

__all__ = ["keys_app", "relying_app", "report_app", "serve", "standings_app", "worker"]

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
relying_app = typer.Typer(help="Register relying parties and their measures.", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
standings_app = typer.Typer(
    help="Batch refresh of standings and list entries.", no_args_is_help=True
)


SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="Settings TOML (name = value; see docs/service.md); XINYONG_<NAME> environment "
        "variables override it. Default: built-in defaults.",
        show_default=False,
    ),
]
FlagsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="NAME=VALUE",
        help="A setting for this run, over the environment and the settings file (repeatable; "
        "names and values as docs/service.md lists them): --set rate_per_second=10.",
        show_default=False,
    ),
]


@standings_app.command("refresh")
def standings_refresh(
    db: DbOption = None,
    grace_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Days from notice to publication. Default: the setting grace_days (30), as the "
            "background worker's daily refresh uses.",
            show_default=False,
        ),
    ] = None,
    settings: SettingsOption = None,
    flags: FlagsOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Score every active scheme over the ledger (DuckDB), save standings, update list entries."""
    from datetime import date

    from xinyong.decisions.standing import SchemeRegistry
    from xinyong.due_process.refresh import refresh_all
    from xinyong.ledger.database import WRITE_LOCK

    if grace_days is None:
        grace_days = _settings_or_exit(settings, flags).grace_days
    cat = load_catalog_or_exit(catalog)
    engine = open_db_or_exit(db)
    try:
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            changed = refresh_all(
                conn, SchemeRegistry(catalog=cat), date.today(), cat, grace_days=grace_days
            )
    finally:
        engine.dispose()
    for scheme_id, count in changed.items():
        out.print(f"{scheme_id}: {count:,} subjects changed lists")


def worker(
    db: DbOption = None,
    settings: SettingsOption = None,
    flags: FlagsOption = None,
    catalog: CatalogOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run each step once, print what it did and exit.")
    ] = False,
    parent: Annotated[int, typer.Option(hidden=True)] = 0,
) -> None:
    """Run background work: corrections pushed to relying parties' webhooks, overdue objections
    lapsed, the day's standings stored. Any number of workers may run against one ledger;
    `xinyong serve` starts one unless given --no-worker."""
    import signal
    import threading

    from xinyong.application.lifeline import follow_parent

    if parent:  # started by ``xinyong serve``: end with it
        follow_parent(parent)
    import os

    from xinyong.application.context import Context
    from xinyong.application.sweeps import refresh_once, sweep_once
    from xinyong.due_process.outbox import deliver_pending
    from xinyong.server import SETTINGS_ENV
    from xinyong.worker import post_json, run_worker

    if settings is None and os.environ.get(SETTINGS_ENV):  # as ``xinyong serve`` passes them
        settings = Path(os.environ[SETTINGS_ENV])
    ctx = Context.create(
        open_db_or_exit(db), load_catalog_or_exit(catalog), _settings_or_exit(settings, flags)
    )
    try:
        if once:
            refreshed = refresh_once(ctx) if ctx.settings.daily_refresh else None
            lapsed, queued = sweep_once(ctx)
            delivered, failed = deliver_pending(
                ctx.engine, post_json, claim_seconds=ctx.settings.webhook_claim_seconds
            )
            out.print(f"standings refreshed: {'no' if refreshed is None else refreshed}")
            out.print(f"objections lapsed: {len(lapsed)}, corrections queued: {queued}")
            out.print(f"webhook messages delivered: {delivered}, to retry: {failed}")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        err.print("xinyong worker: running (Ctrl-C to stop)")
        run_worker(ctx, stop)
    finally:
        ctx.engine.dispose()


class HttpParser(StrEnum):
    """The HTTP parsers ``xinyong serve`` offers (see :mod:`xinyong.service.http_protocol`)."""

    HTTPTOOLS = "httptools"
    H11 = "h11"


def _settings_or_exit(path: Path | None, flags: list[str] | None) -> ServiceSettings:
    from xinyong.application.settings import SettingsError, load_settings, parse_flags

    try:
        return load_settings(path, parse_flags(flags or []))
    except SettingsError as exc:
        fail(str(exc))


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Processes serving requests (one per core)."),
    ] = 1,
    settings: SettingsOption = None,
    flags: FlagsOption = None,
    catalog: CatalogOption = None,
    background: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Start one background worker beside the web workers (see `xinyong worker`).",
        ),
    ] = True,
    http: Annotated[
        HttpParser,
        typer.Option(help="HTTP parser: httptools (C, with uvloop) or h11 (pure Python)."),
    ] = HttpParser.HTTPTOOLS,
) -> None:
    """Run the decision service (FastAPI on uvicorn; OpenAPI at /docs)."""
    import os

    import uvicorn

    from xinyong.application.lifeline import PARENT_ENV, helper_command
    from xinyong.application.settings import ENV_PREFIX, parse_flags
    from xinyong.ledger.database import ENV_VAR, resolve_url
    from xinyong.ledger.signed_head import ledger_key
    from xinyong.ledger.signing import KeyFileError
    from xinyong.server import SETTINGS_ENV, WORKERS_ENV
    from xinyong.service.http_protocol import uvicorn_options

    # Check everything here, where an error can be reported plainly, before any worker starts.
    engine = open_db_or_exit(db)
    load_catalog_or_exit(catalog)
    chosen = _settings_or_exit(settings, flags)
    try:  # the signing key, created now if it is the first use (every answer is signed with it)
        with engine.connect() as conn:
            named = Path(chosen.signing_key) if chosen.signing_key else None
            ledger_key(conn, named, chosen.ledger_origin)
    except KeyFileError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    if workers > 1 and not chosen.redis_url and chosen.burst < workers:
        fail(
            f"burst {chosen.burst} cannot be divided between {workers} workers (each would "
            "allow none): set redis_url to share one limit, or a larger burst"
        )
    # Every worker process builds the app from the environment (uvicorn's app factory).
    os.environ[ENV_VAR] = resolve_url(db)
    if catalog is not None:
        os.environ["XINYONG_CATALOG"] = str(catalog.resolve())
    if settings is not None:
        os.environ[SETTINGS_ENV] = str(settings.resolve())
    for name, value in parse_flags(flags or []).items():  # over the file, as here
        os.environ[f"{ENV_PREFIX}{name.upper()}"] = value
    os.environ[WORKERS_ENV] = str(workers)
    if workers > 1:  # uvicorn's worker processes end with this one (see application/lifeline.py)
        os.environ[PARENT_ENV] = str(os.getpid())
    else:
        os.environ.pop(PARENT_ENV, None)
    helper = None
    if background:  # configured by the same environment; it ends with this process
        helper = _KeptRunning(helper_command("xinyong", "worker", "--parent", str(os.getpid())))
    try:
        # No access log: request lines carry subject ids in query strings.
        uvicorn.run(
            "xinyong.server.factory:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options(http.value),
            log_level="info",
            access_log=False,
        )
    finally:
        if helper is not None:
            helper.stop()


class _KeptRunning:
    """A child process started again when it ends (after 1, 2, 4 ... up to 60 s), until
    :meth:`stop`: the background worker of ``xinyong serve``, which must not stay dead when
    the out-of-memory killer or an unreachable database ends it."""

    def __init__(self, command: list[str]) -> None:
        import subprocess
        import threading

        self._command = command
        self._stopped = threading.Event()
        self._process = subprocess.Popen(command)
        threading.Thread(target=self._watch, name="xinyong-keep-worker", daemon=True).start()

    def _watch(self) -> None:
        import subprocess

        pause = 1.0
        while not self._stopped.wait(1.0):
            code = self._process.poll()
            if code is None:
                continue
            err.print(f"[yellow]the background worker ended ({code}); starting it again[/]")
            if self._stopped.wait(pause):
                return
            pause = min(60.0, pause * 2)
            self._process = subprocess.Popen(self._command)

    def stop(self) -> None:
        import subprocess

        self._stopped.set()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="operator, source, relying or subject.")],
    name: Annotated[str, typer.Option(help="Source name, relying party or subject id.")] = "",
    label: Annotated[str, typer.Option(help="A note for people.")] = "",
    db: DbOption = None,
) -> None:
    """Create a key; the token is printed once and stored only as a hash."""
    engine = open_db_or_exit(db)
    try:
        with engine.begin() as conn:
            key = create_key(conn, role, name, label)
    except ValueError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(key.token)


@keys_app.command("list")
def keys_list(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List keys (ids, roles, names, labels, state; never secrets)."""
    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            rows = list_keys(conn)
    finally:
        engine.dispose()
    if as_json:
        for row in rows:
            out.print(orjson.dumps(row.json()).decode())
        return
    table = Table(title="API keys (times in UTC)")
    for column in ("id", "role", "name"):  # copied whole into other commands: never wrapped
        table.add_column(column, no_wrap=True)
    for column in ("label", "created", "state"):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = f"revoked {_minute(row.revoked_at)}" if row.revoked_at else "active"
        table.add_row(row.key_id, row.role, row.name, row.label, _minute(row.created_at), state)
    out.print(table)


def _minute(stamp: str) -> str:
    """``2026-12-03T14:39:31.814729Z`` as ``2026-12-03 14:39``."""
    return stamp[:16].replace("T", " ")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id.")], db: DbOption = None
) -> None:
    """Revoke a key."""
    engine = open_db_or_exit(db)
    try:
        with engine.begin() as conn:
            if not revoke_key(conn, key_id):
                fail(f"no active key {key_id}", code=1)
    finally:
        engine.dispose()
    out.print(f"{key_id} revoked")


@relying_app.command("add")
def relying_add(
    name: Annotated[str, typer.Argument(help="The relying party's name.")],
    measure: Annotated[list[str], typer.Option("--measure", help="A measure it may check.")],
    purpose: Annotated[str, typer.Option(help="Its permissible purpose, in words.")],
    webhook: Annotated[
        str | None,
        typer.Option(
            help="URL that receives corrections (signed): https, or http to this machine."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Register a relying party for the measures its purpose needs (warns about a measure no
    active scheme defines)."""
    from xinyong.application.relying import register

    engine = open_db_or_exit(db)
    try:
        done = register(engine, name, measure, purpose, webhook)
    except ValueError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    for warning in done.warnings():
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    out.print(f"{done.name}: registered for {', '.join(done.measures)}")
    out.print(f"webhook secret (verifies the signature of every message): {done.webhook_secret}")


@relying_app.command("list")
def relying_list(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List relying parties (measures, purpose, webhook host, active keys, checks; never the
    webhook's secret)."""
    from xinyong.application.relying import list_relying_parties

    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            parties = list_relying_parties(conn)
    finally:
        engine.dispose()
    if as_json:
        for party in parties:
            out.print(orjson.dumps(party.json()).decode())
        return
    table = Table(title="Relying parties (times in UTC)")
    table.add_column("name", no_wrap=True)
    for column in ("measures", "purpose", "webhook", "created", "keys", "checks"):
        table.add_column(column, overflow="fold")
    for p in parties:
        table.add_row(
            p.name,
            ", ".join(p.measures),
            p.purpose,
            p.webhook_host or "",
            _minute(p.created_at),
            str(p.active_keys),
            str(p.checks),
        )
    out.print(table)


@relying_app.command("withdraw")
def relying_withdraw(
    name: Annotated[str, typer.Argument(help="The relying party's name.")], db: DbOption = None
) -> None:
    """Withdraw a relying party: revoke every key bound to it, so that it checks nothing more
    until it is given a new key. Its registration stays: its past checks name it, and
    corrections of them still reach its webhook."""
    from xinyong.application.relying import withdraw

    engine = open_db_or_exit(db)
    try:
        with engine.begin() as conn:
            revoked = withdraw(conn, name)
    except ValueError as exc:
        fail(str(exc), code=1)
    finally:
        engine.dispose()
    out.print(f"{name}: {len(revoked)} key(s) revoked{': ' if revoked else ''}{' '.join(revoked)}")


@report_app.command("transparency")
def report_transparency(db: DbOption = None) -> None:
    """The transparency report as JSON (list sizes, flows, objections, checks)."""
    from datetime import date

    engine = open_db_or_exit(db)
    try:
        with engine.connect() as conn:
            report = transparency_report(conn, date.today())
    finally:
        engine.dispose()
    out.print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


ReportOutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Where to write the report (default: a name with the date, here)."),
]


@report_app.command("subject")
def report_subject(
    subject: Annotated[str, typer.Argument(help="The subject's identifier.")],
    out_file: ReportOutOption = None,
    db: DbOption = None,
    settings: SettingsOption = None,
    flags: FlagsOption = None,
    catalog: CatalogOption = None,
) -> None:
    """A subject's whole file as a self-contained HTML report that proves itself (records with
    inclusion proofs, checks with receipts, the signed checkpoint): answer an access request
    with it. Check it with `xinyong verify report FILE --key KEYFILE`."""
    from xinyong.application.credit_report import subject_report

    _write_report(subject_report, subject, out_file, db, (settings, flags), catalog)


@report_app.command("organization")
def report_organization(
    organization: Annotated[str, typer.Argument(help="The organisation's USCC.")],
    out_file: ReportOutOption = None,
    db: DbOption = None,
    settings: SettingsOption = None,
    flags: FlagsOption = None,
    catalog: CatalogOption = None,
) -> None:
    """An organisation's public credit report (public records, commitments, list entries) as a
    self-contained HTML file that proves itself, as `GET /v1/organizations/{id}/report` gives
    it."""
    from xinyong.application.credit_report import organization_report

    _write_report(organization_report, organization, out_file, db, (settings, flags), catalog)


def _write_report(
    build: Callable[[Connection, Context, str], SealedReport],
    subject: str,
    out_file: Path | None,
    db: str | None,
    settings: tuple[Path | None, list[str] | None],
    catalog: Path | None,
) -> None:
    from xinyong.application.context import Context
    from xinyong.documents.credit_report import report_file
    from xinyong.domain.refusals import Refused
    from xinyong.ledger.signing import KeyFileError

    ctx = Context.create(
        open_db_or_exit(db), load_catalog_or_exit(catalog), _settings_or_exit(*settings)
    )
    try:
        name, page = report_file(ctx, build, subject)
    except Refused as exc:
        fail(f"{subject!r}: {exc}")
    except KeyFileError as exc:
        fail(f"the ledger's signing key cannot be used: {exc}")
    finally:
        ctx.engine.dispose()
    path = out_file or Path(name)
    try:
        path.write_bytes(page.encode())
    except OSError as exc:
        fail(f"cannot write {path}: {exc}")
    out.print(f"wrote {path}: check it with xinyong verify report {path} --key KEYFILE")
