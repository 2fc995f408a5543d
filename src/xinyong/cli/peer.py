"""Printing a peer score for people: the ratings behind it and what the safeguards discounted."""

from __future__ import annotations

from rich.table import Table

from xinyong.cli.common import out
from xinyong.peer.result import PeerScore

__all__ = ["peer_ratings_table", "print_peer"]


def peer_ratings_table(peer: PeerScore, title: str) -> Table:
    """The ratings a subject received, one row each, with weights and discounts."""
    table = Table(title=title)
    for column in ("record", "rater", "stars", "date", "decay", "safeguard", "rater weight"):
        table.add_column(column, justify="left" if column in ("record", "rater") else "right")
    table.add_column("discounted because")
    for r in peer.ratings:
        table.add_row(
            r.record,
            r.rater,
            f"{r.stars:g}",
            str(r.occurred_at),
            f"{r.decay:.2f}",
            f"x{r.safeguard:g}",
            f"{r.rater_weight:.3f}",
            "; ".join(r.reasons) or "-",
        )
    return table


def print_peer(peer: PeerScore, points: float) -> None:
    """The peer section of ``xinyong explain``."""
    out.print(peer_ratings_table(peer, f"Ratings received ({peer.algorithm})"))
    status = "converged" if peer.converged else "did NOT converge"
    out.print(
        f"peer score {peer.score:.4f} = (min_ratings {peer.min_ratings:g} x prior "
        f"{peer.prior:g} + sum of weight x stars) / (min_ratings + sum of weights); "
        f"{peer.iterations} iterations, {status}; adds {points:+g} points"
    )
