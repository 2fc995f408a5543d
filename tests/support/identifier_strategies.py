"""How people type identifiers: the variants that must all reach the same canonical id."""

from __future__ import annotations

from hypothesis import strategies as st

FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
SPACES = ["", " ", "\t", "\n", "\u3000", "\u00a0", " \u3000 "]


@st.composite
def spelled(draw: st.DrawFn, number: str) -> str:
    """``number`` as a person may type it: any mix of case and full-width characters, and any
    whitespace around it."""
    chars = [
        draw(st.sampled_from([c, c.lower(), FULL_WIDTH.get(c, c), FULL_WIDTH.get(c.lower(), c)]))
        for c in number
    ]
    return draw(st.sampled_from(SPACES)) + "".join(chars) + draw(st.sampled_from(SPACES))
