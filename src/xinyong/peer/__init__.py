"""Peer ratings: interactions and 1-5 star ratings between subjects, and the peer score.

A rating is a conduct record about the *rated* subject (so it appears in their file and can be
objected to like any record); an interaction record of each party proves that both took part.
The modules, in the order data flows through them:

- :mod:`~xinyong.peer.ratings`: which rating records count at a date (the records themselves:
  :mod:`xinyong.domain.peer_records`);
- :mod:`~xinyong.peer.admission`: the cross-record checks at ingest (interaction, once per
  interaction, window, daily limit);
- :mod:`~xinyong.peer.graph`: the ratings as arrays (the rating graph);
- :mod:`~xinyong.peer.safeguards`: retaliation, collusion and new-account discounts;
- :mod:`~xinyong.peer.algorithms`: ``nosedive``, ``bayesian`` and ``eigentrust`` on sparse
  matrices, for whole populations;
- :mod:`~xinyong.peer.reference`: the same semantics in plain Python, one subject at a time,
  which tests hold the vectorized code to;
- :mod:`~xinyong.peer.result`: what both give per subject: the score and every rating behind
  it, with the safeguards' discounts and why;
- :mod:`~xinyong.peer.incremental`: updating scores after one new rating without recomputing;
- :mod:`~xinyong.peer.timeline`: the rating graph of many dates from one read of the records;
- :mod:`~xinyong.peer.pseudonyms`: raters as the rated subject sees them.

The airport scene of ``xinyong demo nosedive`` plays these on a small society through the
ledger and the checks: :mod:`xinyong.lab.nosedive_scene`.
"""
