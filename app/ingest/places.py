"""Keeping a locality's and a branch's denormalized ancestors right."""

from app.models import Branch, Locality
from app.models.vocab import LEVEL_OF_KIND
from app.services.text import fold, lower_exact


def set_locality_ancestors(locality: Locality, parent: Locality | None) -> None:
    """Copy the parent's ancestors, then add the locality itself at its own level."""
    locality.province_id = parent.province_id if parent else None
    locality.district_id = parent.district_id if parent else None
    locality.commune_id = parent.commune_id if parent else None
    level = LEVEL_OF_KIND[locality.kind]
    if level == "province":
        locality.province_id = locality.id
    elif level == "district":
        locality.district_id = locality.id
    elif level == "commune":
        locality.commune_id = locality.id


def set_branch_place(branch: Branch, locality: Locality | None) -> None:
    branch.locality_id = locality.id if locality else None
    branch.province_id = locality.province_id if locality else None
    branch.district_id = locality.district_id if locality else None
    branch.commune_id = locality.commune_id if locality else None


def locality_search_fields(name: str, official_name: str | None) -> tuple[str, str]:
    label = official_name or name
    return fold(label), lower_exact(label)


def branch_search_fields(name: str | None, description: str | None) -> tuple[str, str]:
    label = " ".join(part for part in (name, description) if part)
    return fold(label), lower_exact(label)
