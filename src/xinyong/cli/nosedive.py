"""``xinyong demo nosedive``: the airport scene, printed.

The scene itself (:mod:`xinyong.lab.nosedive_scene`) runs through the real ledger, admission
checks, peer algorithms and relying-party checks; this module only shows what happened.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from xinyong.cli.common import err, out
from xinyong.cli.peer import peer_ratings_table
from xinyong.domain.catalog import Catalog
from xinyong.lab.nosedive_scene import AIRLINE, GATE, LACIE, SceneRun, play_scene
from xinyong.peer.result import PeerScore
from xinyong.schemes.lint import lint

__all__ = ["nosedive_scene"]


def _days_table(run: SceneRun) -> Table:
    table = Table(title=f"{LACIE} under {run.loaded.scheme.id} {run.loaded.short_version}")
    for column in ("day", "peer score", f"{AIRLINE}: {GATE}?", "1-2 star ratings that day"):
        table.add_column(column, justify="right")
    for day in run.days:
        mark = " (the bad day)" if day.day == run.bad_day else ""
        gate = Text("yes", style="green") if day.boards else Text("no", style="red")
        table.add_row(f"{day.day}{mark}", f"{day.score:.3f}", gate, str(day.low_ratings))
    return table


def _bad_day_ratings(run: SceneRun) -> PeerScore:
    peer = run.explanation
    today = tuple(r for r in peer.ratings if r.occurred_at == run.bad_day and r.stars <= 2)
    return PeerScore(
        peer.subject_id,
        peer.algorithm,
        peer.score,
        peer.prior,
        peer.min_ratings,
        today,
        peer.iterations,
        peer.converged,
    )


def _print_run(run: SceneRun, title: str) -> None:
    out.rule(title)
    for issue in lint(run.loaded):
        out.print(f"lint: {issue.severity.value} [{issue.check}] {issue.message}", markup=False)
    out.print(_days_table(run))
    flipped = run.flipped_on
    if flipped is None:
        out.print(f"The {AIRLINE}'s check of {GATE} said yes every day.")
    else:
        before = [d for d in run.days if d.day < flipped]
        said = "yes" if before and before[-1].boards else "no"
        out.print(
            f"The {AIRLINE}'s check of {GATE} flipped from {said} to [bold red]no[/] on {flipped}.",
            markup=True,
        )
    out.print(
        f"Explanation of the check on the bad day (decision {run.decision_id}): peer score "
        f"{run.explanation.score:.3f} from {len(run.explanation.ratings)} ratings "
        f"({run.explanation.algorithm}, {run.explanation.iterations} iterations); "
        "the low ratings of that day and what was discounted:"
    )
    out.print(peer_ratings_table(_bad_day_ratings(run), "Low ratings on the bad day"))


def nosedive_scene(catalog: Catalog, seed: int) -> tuple[SceneRun, SceneRun]:
    """Play and print the scene; return both runs."""
    err.print("[bold]Nosedive[/]: playing the airport scene twice (about 20 seconds)")
    show, safeguarded = play_scene(catalog, seed)
    _print_run(show, "1. the show's mechanism: nosedive, no smoothing, no safeguards")
    _print_run(safeguarded, "2. the nosedive-gate pilot: eigentrust, smoothing, safeguards")
    out.rule("what changed")
    out.print(
        f"{LACIE} after the bad day: {show.days[-1].score:.3f} under the show's mechanism, "
        f"{safeguarded.days[-1].score:.3f} under the pilot. Same society, same seed, same "
        "quarrels: the 1-star ratings that answered her own are presumed retaliation and "
        "ignored (hers, given first, stand), the rest is smoothed towards the prior, raters "
        "weigh their trust from seeds rather than their status, and the cascade never starts."
    )
    return show, safeguarded
