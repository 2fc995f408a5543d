"""``xinyong demo nosedive``: the airport scene's outcome, and what it prints.

The outcome is the point of the scene, so the test states it: under the show's mechanism the
airline's gate check says yes before the bad day and no from the bad day on, with Lacie's score
still falling ten days later; under the ``nosedive-gate`` pilot the check says yes every day:
the 1-star ratings that reply to Lacie's own 1-star ratings are discounted as retaliation in her
explanation, while the unprovoked ones and her own first ratings keep their weight.
"""

from __future__ import annotations

from typer.testing import CliRunner

from xinyong.cli.app import app
from xinyong.cli.common import out
from xinyong.cli.nosedive import nosedive_scene
from xinyong.domain.catalog import load_catalog
from xinyong.lab.nosedive_scene import LACIE, PROVOKED, QUARRELS


def test_the_airport_scene() -> None:
    with out.capture() as printed:
        show, safeguarded = nosedive_scene(load_catalog(), seed=42)
    text = printed.get()

    assert show.loaded.scheme.peer is not None
    assert show.loaded.scheme.peer.algorithm == "nosedive"
    before = [d for d in show.days if d.day < show.bad_day]
    after = [d for d in show.days if d.day >= show.bad_day]
    assert before
    assert all(d.boards and d.score >= 4.2 for d in before)
    assert show.flipped_on == show.bad_day
    assert all(not d.boards for d in after)
    assert after[-1].score < after[0].score < 4.2  # the cascade goes on after the bad day
    bad = next(d for d in show.days if d.day == show.bad_day)
    assert bad.low_ratings == QUARRELS

    assert safeguarded.loaded.scheme.id == "nosedive-gate"
    assert safeguarded.flipped_on is None
    assert all(d.boards and d.score >= 4.2 for d in safeguarded.days)
    assert safeguarded.days[-1].score > show.days[-1].score + 0.5
    quarrels = [
        r
        for r in safeguarded.explanation.ratings
        if r.occurred_at == safeguarded.bad_day and r.stars == 1
    ]
    assert len(quarrels) == QUARRELS
    discounted = [r for r in quarrels if r.reasons]
    assert len(discounted) == PROVOKED
    assert all(r.weight == 0 and r.reasons[0].startswith("retaliation") for r in discounted)
    assert all(r.weight > 0 for r in quarrels if not r.reasons)  # unprovoked: they count
    assert all(r.rater != LACIE for r in quarrels)
    assert not any(r.reasons for r in show.explanation.ratings)

    assert "flipped from yes to no" in text
    assert "[status-weighting]" in text
    assert "said yes every day" in text
    assert show.decision_id in text


def test_demo_takes_the_scenario_as_an_argument() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "nosedive" in result.output
    wrong = CliRunner().invoke(app, ["demo", "lacie"])
    assert wrong.exit_code == 2
