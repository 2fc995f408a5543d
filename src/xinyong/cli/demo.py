"""``xinyong demo``: the main job end to end on the embedded default database.

Synthesize a population, load its subjects, ingest its conduct records, verify the ledger, then
score every bundled pilot over the ledger, save the standings and print per pilot its grade
distribution, list sizes and the measures in force. Re-running it is safe: the same seed gives
the same records, which the ledger recognises as already present.

``xinyong demo nosedive`` plays a scenario instead: the airport scene of "Nosedive"
(:mod:`xinyong.cli.nosedive`), in temporary ledgers of its own.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, Engine, func, select

from xinyong.cli.common import (
    DbOption,
    err,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
    row_progress,
)
from xinyong.cli.demo_portal import (
    DEMO_MEASURE,
    DEMO_RELYING_PARTY,
    DemoAccess,
    NotADemoLedger,
    publish_demo,
    real_subject,
)
from xinyong.cli.nosedive import nosedive_scene
from xinyong.domain.catalog import Catalog
from xinyong.ingest.apart import PreparerDied
from xinyong.ingest.files import ingest_records
from xinyong.ingest.subjects import load_subjects
from xinyong.ledger.append import read_head
from xinyong.ledger.database import ledger_place
from xinyong.ledger.effective import current_subjects, effective_records
from xinyong.ledger.verify import verify_ledger
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.scoring.ledger_run import score_ledger
from xinyong.scoring.run import Engine as ScoringEngine
from xinyong.scoring.run import standings_from_table
from xinyong.scoring.store import add_scheme, save_standings
from xinyong.synth.dataset import DEFAULT_END, SynthConfig, generate, subjects_path, write

__all__ = ["Scenario", "demo"]


class Scenario(StrEnum):
    """Scenarios ``xinyong demo`` can play instead of the main job."""

    NOSEDIVE = "nosedive"


def demo(
    scenario: Annotated[
        Scenario | None,
        typer.Argument(
            help="A scenario to play instead of the main job: nosedive (the airport scene: a "
            "rating cascade, the airline's gate check, and the same under safeguards)."
        ),
    ] = None,
    db: DbOption = None,
    people: Annotated[int, typer.Option(min=1, help="Synthetic people.")] = 2_000,
    orgs: Annotated[int, typer.Option(min=0, help="Synthetic organizations.")] = 200,
    years: Annotated[int, typer.Option(min=1, max=20, help="Years of conduct.")] = 5,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 42,
    out_dir: Annotated[Path, typer.Option(help="Where the synthetic files are written.")] = Path(
        "demo-out"
    ),
) -> None:
    """Run the main job: synthetic population -> ledger -> verification -> pilots' standings."""
    catalog = load_catalog_or_exit(None)
    if scenario is Scenario.NOSEDIVE:
        nosedive_scene(catalog, seed)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    records_file = out_dir / "conduct.parquet"
    config = SynthConfig(people=people, organizations=orgs, years=years, seed=seed, end=DEFAULT_END)
    err.print(
        f"[bold]1/6[/] synthesizing {people:,} people and {orgs:,} organizations "
        f"({config.start} to {config.end}, seed {seed})"
    )
    dataset = generate(config)
    write(dataset, records_file)
    engine = open_db_or_exit(db, create=True)
    with engine.connect() as conn:
        if real_subject(conn) is not None:
            engine.dispose()
            fail(str(NotADemoLedger()))
    try:
        err.print(
            f"[bold]2/6[/] loading subjects and ingesting {dataset.records.num_rows:,} "
            f"records into {engine.url.render_as_string(hide_password=True)}"
        )
        subjects_report = load_subjects(engine, subjects_path(records_file))
        with row_progress("ingest") as bar:
            task = bar.add_task("ingest", total=None)
            try:
                report = ingest_records(
                    engine,
                    records_file,
                    catalog,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except PreparerDied as exc:
                fail(str(exc), code=1)
        if report.rejected or subjects_report.rejected:
            fail(f"synthetic data was rejected: see {report.rejects_file}", code=1)
        err.print("[bold]3/6[/] verifying the ledger")
        with engine.connect() as conn:
            verification = verify_ledger(conn)
            if not verification.ok:
                fail(f"ledger verification failed: {verification.problems[0]}", code=1)
            err.print("[bold]4/6[/] summary")
            _summary(conn, config.end, report.accepted, report.duplicates, catalog)
            head = read_head(conn)
        err.print(f"[bold]5/6[/] scoring every bundled pilot as of {config.end}")
        _score_pilots(engine, config.end, catalog)
        today = date.today()
        err.print(f"[bold]6/6[/] publishing the pilots' lists as of {today} (demo data)")
        access = publish_demo(engine, catalog, out_dir, today)
    except NotADemoLedger as exc:  # real subjects added meanwhile: nothing was published
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"ledger verified: {verification.size:,} entries, checkpoint {head.token}")
    out.print(
        f"{access.published:,} list entries opened, public at once (demo data: synthetic "
        "identities, so no notice period; real data waits for it, 30 days by default)"
    )
    _next_steps(db, access, today)


def _next_steps(db: str | None, access: DemoAccess, today: date) -> None:
    """What to run next: the service, signing in as a listed person, a check with curl (its key
    read from the keys file, so that no secret is printed)."""
    where = f" --db {shlex.quote(ledger_place(db))}" if db else ""
    url = "http://127.0.0.1:8000"
    keys = access.keys_file
    out.print(
        f"\n[bold]keys[/] (operator, relying party, a listed person): {escape(str(keys))}",
        markup=True,
    )
    out.print("\n[bold]next:[/]", markup=True)
    out.print(
        f"  xinyong serve{where}\n"
        f"      then open {url}/ (the public lists) and {url}/docs (the API)"
    )
    if access.subject is not None:
        subject = access.subject
        out.print(
            f"  sign in as the listed person {subject}: open {url}/login and paste the token "
            f"under [subject] in {keys}\n"
            "      their file: why they are listed, record by record; dispute or apply for repair",
            markup=False,
        )
        path = json.dumps(str(keys))
        read = f'import tomllib; print(tomllib.load(open({path}, "rb"))["relying"]["token"])'
        out.print(
            f"  export XINYONG_TOKEN=$(python3 -c {shlex.quote(read)})\n"
            f'  curl -H "Authorization: Bearer $XINYONG_TOKEN" '
            f'"{url}/v1/checks?subject={subject}&measure={DEMO_MEASURE}"\n'
            f"      the relying party {DEMO_RELYING_PARTY}'s check: a signed answer and receipt",
            markup=False,
        )
        out.print(
            f"  xinyong explain judgment-defaulters --subject {subject} --as-of {today}{where}\n"
            "      the same standing explained in the terminal"
        )
    out.print(
        "  xinyong lab run pilots --out lab-pilots\n"
        "      the pilots compared on a simulated population: open lab-pilots/report.html"
    )


def _score_pilots(engine: Engine, as_of: date, catalog: Catalog) -> None:
    """Store, activate, score and save every bundled pilot; print what each one does to the
    population."""
    for pilot_id, path in bundled_pilots().items():
        loaded = load_scheme(path)
        with engine.begin() as conn:
            add_scheme(conn, loaded, catalog=catalog)
            table, head = score_ledger(conn, loaded.scheme, as_of, ScoringEngine.DUCKDB, catalog)
            rows = standings_from_table(table)
            run = save_standings(conn, loaded, as_of, head, "duckdb", rows)
        grades = Counter(row.grade for row in rows)
        lists = Counter(name for row in rows for name in row.lists)
        measures = Counter(name for row in rows for name in row.measures)
        scheme = loaded.scheme
        out.print(
            f"[bold]{escape(scheme.name)}[/] ({pilot_id} {loaded.short_version}): "
            f"{run.subjects:,} subjects scored, run {run.run_id[:8]}",
            markup=True,
        )
        table_out = Table(show_header=True, box=None, padding=(0, 2))
        table_out.add_column("grade")
        table_out.add_column("subjects", justify="right")
        table_out.add_column("share", justify="right")
        for grade in scheme.grades:
            count = grades.get(grade.name, 0)
            share = count / len(rows) if rows else 0.0
            table_out.add_row(grade.name, f"{count:,}", f"{share:.1%}")
        out.print(table_out)
        kinds = {lst.id: lst.kind for lst in scheme.lists}
        list_text = ", ".join(f"{name} ({kinds[name]}): {lists.get(name, 0):,}" for name in kinds)
        out.print(f"  lists: {list_text or '-'}")
        measure_kind = {m.id: m.kind for m in scheme.measures}
        measure_text = ", ".join(
            f"{name} ({measure_kind[name]}): {count:,}" for name, count in sorted(measures.items())
        )
        out.print(f"  measures in force: {measure_text or '-'}")


def _summary(conn: Connection, as_of: date, added: int, present: int, catalog: Catalog) -> None:
    kinds = Counter(row.kind for row in conn.execute(current_subjects()))
    effective = effective_records(as_of, catalog=catalog).subquery()
    by_code: dict[str, int] = dict(
        conn.execute(select(effective.c.code, func.count()).group_by(effective.c.code)).all()
    )
    total = conn.exec_driver_sql("SELECT count(*) FROM records").scalar() or 0
    out.print(
        f"subjects: {kinds['person']:,} people, {kinds['organization']:,} organizations; "
        f"records: {total:,} in the ledger ({added:,} added now, {present:,} already present)"
    )
    table = Table(title=f"Effective records as of {as_of} by category (expired ones left out)")
    for column in ("category", "codes", "records", "negative", "positive"):
        table.add_column(column, justify="right" if column != "category" else "left")
    categories: dict[str, list[int]] = {}
    for code, count in by_code.items():
        entry = catalog.codes[str(code)]
        stats = categories.setdefault(entry.category, [0, 0, 0, 0])
        stats[0] += 1
        stats[1] += count
        stats[2 if entry.polarity.value == "negative" else 3] += count
    for category, (codes, count, negative, positive) in sorted(categories.items()):
        table.add_row(category, str(codes), f"{count:,}", f"{negative:,}", f"{positive:,}")
    out.print(table)
