"""What may sit under what (app.services.place_tree): pure rules, no database."""

import pytest

from app.models import Branch, Locality
from app.services.place_tree import _in_loops, misplaced


@pytest.mark.parametrize(
    ("model", "kind", "parent_kind", "allowed"),
    [
        (Locality, "village", "commune", True),
        (Locality, "commune", "province", True),  # the reform's two levels
        (Locality, "ward", "city", True),
        (Locality, "special_zone", "province", True),
        (Locality, "village", "village", False),
        (Locality, "commune", "ward", False),  # the same level
        (Locality, "province", "village", False),
        (Locality, "district", "city_province", True),
        (Branch, "village_branch", "commune_committee", True),
        (Branch, "grassroots_branch", "district_committee", True),
        (Branch, "party_cell", "village_branch", True),
        (Branch, "grassroots_branch", "agency_committee", True),  # no level: anywhere
        (Branch, "agency_committee", "party_cell", True),
        (Branch, "village_branch", "other", True),
        (Branch, "province_committee", "commune_committee", False),
        (Branch, "commune_committee", "village_branch", False),
        (Branch, "school_branch", "village_branch", False),  # two chi bộ
        (Branch, "village_branch", None, True),  # no parent
    ],
)
def test_a_row_sits_under_one_of_a_higher_level(
    model: type, kind: str, parent_kind: str | None, allowed: bool
) -> None:
    assert (misplaced(model, kind, parent_kind) is None) is allowed


def test_only_the_rows_on_a_loop_are_in_it() -> None:
    """A row under a loop is misplaced only if its own kind says so; a dangling parent
    (its row deleted by hand) is no loop."""
    parents = {1: 2, 2: 3, 3: 1, 4: 1, 5: 5, 6: None, 7: 99, 8: 6}
    assert sorted(_in_loops(parents)) == [1, 2, 3, 5]
