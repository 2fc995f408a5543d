"""The pilot lab: simulate a population under competing schemes and compare their effects.

* :mod:`~xinyong.lab.experiment`: the experiment file;
* :mod:`~xinyong.lab.behaviour`: the behaviour model and its documented parameters;
* :mod:`~xinyong.lab.world`: a replicate's population and potential records;
* :mod:`~xinyong.lab.arm`: one scheme run step by step with the production engine
  (:mod:`xinyong.engines.step_scorer`);
* :mod:`~xinyong.lab.metrics`: the metrics;
* :mod:`~xinyong.lab.sweep`: parameter grids and their ranking;
* :mod:`~xinyong.lab.run`: the run; :mod:`~xinyong.lab.report`: the HTML report and files;
* :mod:`~xinyong.lab.nosedive_scene`: the airport scene of ``xinyong demo nosedive``, played
  through the real ledger, admission checks and relying-party checks rather than columnar.
"""
