"""The pilot lab: simulate a population under competing schemes and compare their effects.

* :mod:`~xinyong.lab.experiment`: the experiment file;
* :mod:`~xinyong.lab.behaviour`: the behaviour model and its documented parameters;
* :mod:`~xinyong.lab.world`: a replicate's population and potential records;
* :mod:`~xinyong.lab.arm`: one scheme run step by step with the production engine
  (:mod:`xinyong.engines.step_scorer`);
* :mod:`~xinyong.lab.metrics`: the metrics;
* :mod:`~xinyong.lab.sweep`: parameter grids and their ranking;
* :mod:`~xinyong.lab.runner`: the run; :mod:`~xinyong.lab.report`: the HTML report and files;
* :mod:`~xinyong.lab.nosedive_scene`: the airport scene of ``xinyong demo nosedive``, played
  through the real ledger, admission checks and relying-party checks rather than columnar.

From Python (a notebook), :func:`run` runs an experiment and returns its metrics as a pandas
DataFrame.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from xinyong.domain.catalog import Catalog
    from xinyong.lab.runner import Progress

__all__ = ["run"]


def run(
    experiment: str | Path,
    *,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run an experiment from Python (a notebook) and return its metrics as a pandas DataFrame:
    one row per replicate, arm and step, the columns of ``metrics.csv`` (docs/lab.md).

    ``experiment`` is a TOML file or the name of a bundled experiment (``xinyong lab list``);
    ``progress(phase, done, total)`` is called after every arm's step. The HTML report is what
    ``xinyong lab run`` adds to this.
    """
    from xinyong.lab.experiment import bundled_experiments, load_experiment
    from xinyong.lab.runner import run_experiment

    bundled = bundled_experiments()
    path = bundled[str(experiment)] if str(experiment) in bundled else Path(experiment)
    result = run_experiment(load_experiment(path), path.resolve().parent, catalog, progress)
    frame: pd.DataFrame = result.metrics.to_pandas()
    return frame
