"""What the public may see of a listed subject: the masking policy of disclosure.

Publication of list entries is the point of a "face" system, but how much of an identifier to
show is a choice (the SPC's Art. 6 lists name and ID number; its 2009 database hid the last four
digits; current practice varies, DOMAIN.md section 1). The policy is a service setting
(``masking``) with three parts:

- ``person_id``: ``region-and-check`` (default) keeps the 6-digit region prefix and the check
  character of a resident ID (``110105***********X``); ``hide-last-four`` hides the order code and
  check character (the 2009 practice); ``hidden`` shows nothing;
- ``person_name``: ``family-name`` (default) keeps the family name only; ``full``; ``hidden``;
- ``organization``: ``full`` (default; registration data is public) or ``name-only`` (the USCC is
  hidden).

A person id that is not a resident ID keeps at most its first two characters under any policy
but ``hidden``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from xinyong.domain.identifiers import (
    IdentifierRefused,
    canonical_subject_id,
    looks_like_resident_id,
    mask_resident_id,
)

__all__ = ["MaskingPolicy", "OrganizationMask", "PersonIdMask", "PersonNameMask", "searched_id"]

_HIDDEN = "***"


class PersonIdMask(StrEnum):
    """How a person's identifier is shown."""

    REGION_AND_CHECK = "region-and-check"
    HIDE_LAST_FOUR = "hide-last-four"
    HIDDEN = "hidden"


class PersonNameMask(StrEnum):
    """How a person's name is shown."""

    FAMILY_NAME = "family-name"
    FULL = "full"
    HIDDEN = "hidden"


class OrganizationMask(StrEnum):
    """How an organization is shown."""

    FULL = "full"
    NAME_ONLY = "name-only"


@dataclass(frozen=True, slots=True)
class MaskingPolicy:
    """The masking applied to every public view of a list entry."""

    person_id: PersonIdMask = PersonIdMask.REGION_AND_CHECK
    person_name: PersonNameMask = PersonNameMask.FAMILY_NAME
    organization: OrganizationMask = OrganizationMask.FULL

    @classmethod
    def from_table(cls, table: object) -> MaskingPolicy:
        """A policy from a settings table such as ``{ person_id = "hidden" }``; parts left out
        keep their defaults. Raises ValueError naming the part and its choices."""
        if not isinstance(table, Mapping):
            raise ValueError("must be a table of person_id, person_name and organization")
        parts: dict[str, type[StrEnum]] = {
            "person_id": PersonIdMask,
            "person_name": PersonNameMask,
            "organization": OrganizationMask,
        }
        chosen: dict[str, StrEnum] = {}
        for key, value in table.items():
            if key not in parts:
                raise ValueError(f"unknown part {key!r} (known: {', '.join(parts)})")
            choices = [member.value for member in parts[key]]
            if value not in choices:
                raise ValueError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
            chosen[key] = parts[key](value)
        return cls(**chosen)  # type: ignore[arg-type]

    def table(self) -> dict[str, str]:
        """The policy as a settings table (shown on the pages that apply it)."""
        return {
            "person_id": self.person_id.value,
            "person_name": self.person_name.value,
            "organization": self.organization.value,
        }

    def subject_id(self, subject_id: str, kind: str) -> str:
        """A subject id as the public may see it."""
        if kind == "organization":
            return subject_id if self.organization is OrganizationMask.FULL else _HIDDEN
        if self.person_id is PersonIdMask.HIDDEN:
            return _HIDDEN
        if looks_like_resident_id(subject_id):
            if self.person_id is PersonIdMask.HIDE_LAST_FOUR:
                return subject_id[:-4] + "****"
            return mask_resident_id(subject_id)
        keep = min(2, len(subject_id) // 3)
        return subject_id[:keep] + "*" * max(3, len(subject_id) - keep)

    def visible_name(self, name: str | None, kind: str) -> str:
        """The part of a display name the public may see (no placeholder characters)."""
        if not name:
            return ""
        if kind == "organization" or self.person_name is PersonNameMask.FULL:
            return name
        if self.person_name is PersonNameMask.HIDDEN:
            return ""
        if name.isascii():
            return name.split()[-1] if " " in name else name[:1]
        return name[:1]

    def name(self, name: str | None, kind: str) -> str:
        """A display name as the public may see it: the visible part and a mark for the rest."""
        if not name:
            return ""
        visible = self.visible_name(name, kind)
        if visible == name:
            return name
        if not visible:
            return _HIDDEN
        if name.isascii():
            return f"{visible} *"
        return visible + "*" * max(1, len(name) - len(visible))

    def matches(self, query: str, subject_id: str, name: str | None, kind: str) -> bool:
        """Whether a public search for ``query`` finds this entry.

        It does when the query is the full identifier or the full name (exact matches reveal
        nothing the searcher did not already know), or appears in the part of the name the
        policy shows. A part of a hidden identifier or name never matches, so a search cannot
        uncover masked characters one by one.
        """
        wanted = " ".join(query.split()).casefold()
        if not wanted:
            return True
        if searched_id(query) == subject_id:
            return True
        full = " ".join((name or "").split()).casefold()
        return wanted == full or wanted in self.visible_name(name, kind).casefold()


def searched_id(query: str) -> str | None:
    """The subject id a search box's text names, in canonical form; None when the text is not
    an id (a name, a part of one, or a malformed number, which never finds anybody)."""
    try:
        return canonical_subject_id(query)
    except IdentifierRefused:
        return None
