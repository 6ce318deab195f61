"""Writing localities and branches (organizations), each with the quote that names it."""

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session, col

from app.errors import ApiError, FieldError
from app.ingest.places import (
    branch_search_fields,
    locality_search_fields,
    set_branch_place,
    set_locality_ancestors,
    sync_locality_words,
    unfit_search_fields,
)
from app.ingest.records import GROUP_WITH_A_NAME
from app.models import (
    Branch,
    BranchStatus,
    Fact,
    Locality,
    LocalitySuccession,
    Officeholder,
    Source,
)
from app.reader import Reader
from app.schemas.writes import BranchCreate, BranchUpdate, LocalityCreate, LocalityUpdate
from app.services import audit
from app.services.branches import branch_detail
from app.services.dependants import figures_using
from app.services.json_sql import representation_etag
from app.services.lifetimes import figures_outside
from app.services.localities import locality_detail
from app.services.place_tree import loops, misplaced, misplaced_children, too_deep
from app.services.writes import (
    Outcome,
    WriteContext,
    assign,
    check_if_match,
    get_for_update,
    invalid,
    merge,
    quote_errors,
    referenced,
    refresh,
    taken,
)
from app.services.yearly import note_stale


def _refusal(what: str, ident: int, using: list[str]) -> ApiError:
    detail = f"{what} {ident} is used by {', '.join(using)}; remove those first."
    field = f"path.{what.lower()}_id"
    return ApiError(409, detail, errors=[FieldError(field=field, message=detail, type="in_use")])


def _count(session: Session, model: Any, *conditions: Any) -> int:
    return int(
        session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one()
    )


# -- Localities -----------------------------------------------------------------------
def _locality_path(ident: int) -> str:
    return f"/localities/{ident}"


def _tree_errors(
    session: Session, model: Any, row_id: int | None, kind: str, parent: Any, field: str
) -> list[FieldError]:
    """The row of `kind` under `parent`, and above its children (app.services.place_tree)."""
    errors = []
    if parent is not None and (why := misplaced(model, kind, parent.kind)):
        errors.append(FieldError(field=field, message=why))
    if row_id is not None and (why := misplaced_children(session, model, row_id, kind)):
        errors.append(FieldError(field="body.kind", message=why))
    return errors


def _placing_field(patch: LocalityUpdate | BranchUpdate | None) -> str:
    """The field a misplacement is named by: the kind, when a change gives it alone."""
    if patch is not None and "kind" in patch.model_fields_set:
        return "body.parent_id" if "parent_id" in patch.model_fields_set else "body.kind"
    return "body.parent_id"


def _locality_values(
    session: Session,
    body: LocalityCreate,
    row_id: int | None = None,
    patch: LocalityUpdate | None = None,
) -> tuple[dict[str, Any], Any]:
    parent = referenced(session, Locality, body.parent_id, "body.parent_id", "locality")
    source = referenced(session, Source, body.source_id, "body.source_id", "source")
    errors = quote_errors(source, body.quote)
    errors += _tree_errors(session, Locality, row_id, body.kind, parent, _placing_field(patch))
    names = locality_search_fields(body.name, body.official_name)
    if why := unfit_search_fields(Locality, names):
        searched = "body.official_name" if body.official_name else "body.name"
        errors.append(FieldError(field=searched, message=why))
    if errors:
        raise invalid(errors)
    values = body.model_dump(exclude={"key"}) | names._asdict()
    return values, parent


def _repair_subtree(session: Session, root: Locality, parent: Locality | None) -> list[int]:
    """A moved or re-kinded unit: its ancestors, its descendants' and their branches'.

    Returns the ids of the branches moved (their communes' yearly totals change)."""
    moved: list[int] = []
    set_locality_ancestors(root, parent)
    session.add(root)
    frontier = [root]
    while frontier:
        ids = [node.id for node in frontier]
        nodes = {node.id: node for node in frontier}
        for branch in session.execute(
            select(Branch).where(col(Branch.locality_id).in_(ids))
        ).scalars():
            note_stale(session, [branch.commune_id])
            set_branch_place(branch, nodes[branch.locality_id])
            session.add(branch)
            moved.append(branch.id)
        children = list(
            session.execute(select(Locality).where(col(Locality.parent_id).in_(ids))).scalars()
        )
        for child in children:
            set_locality_ancestors(child, nodes[child.parent_id])
            session.add(child)
        frontier = children
    return moved


def create_locality(session: Session, ctx: WriteContext, body: LocalityCreate) -> Outcome:
    taken(session, Locality, body.key, "body.key")
    values, parent = _locality_values(session, body)
    locality = Locality.model_validate(values | {"key": body.key})
    session.add(locality)
    session.flush()  # the id: a unit is its own ancestor at its level
    assert locality.id is not None
    set_locality_ancestors(locality, parent)
    sync_locality_words(session, [locality])
    refresh(session, ctx, [], localities=[locality.id])
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "create",
        "locality",
        entity_id=locality.id,
        entity_key=locality.key,
        after=audit.snapshot(locality),
    )
    return Outcome(
        201,
        locality_detail(Reader.on(session), locality.id),
        _locality_path(locality.id),
        is_item=True,
    )


def _editable_locality(session: Session, ident: int, if_match: str | None) -> Locality:
    locality = get_for_update(session, Locality, ident, "Locality")
    check_if_match(
        if_match,
        representation_etag(locality_detail(Reader.on(session), ident)),
        _locality_path(ident),
    )
    if locality.source_id is None:
        detail = (
            f"Locality {ident} is an official unit from seed/reference; it changes with the "
            "reference file, not through the API."
        )
        raise ApiError(
            409,
            detail,
            errors=[FieldError(field="path.locality_id", message=detail, type="official_unit")],
        )
    return locality


def update_locality(
    session: Session, ctx: WriteContext, ident: int, patch: LocalityUpdate, if_match: str | None
) -> Outcome:
    locality = _editable_locality(session, ident, if_match)
    merged = merge(LocalityCreate, locality.model_dump(), patch)
    if loops(session, Locality, ident, merged.parent_id):
        raise invalid(
            [FieldError(field="body.parent_id", message="would put the locality inside itself")]
        )
    values, parent = _locality_values(session, merged, ident, patch)
    before = audit.snapshot(locality)
    moved = values["parent_id"] != locality.parent_id or values["kind"] != locality.kind
    if assign(locality, values):
        moved_branches = _repair_subtree(session, locality, parent) if moved else []
        session.add(locality)
        sync_locality_words(session, [locality])
        # The moved branches' status rows too: they keep the branch's province.
        refresh(session, ctx, moved_branches, localities=[ident])
        audit.record(
            session,
            ctx.caller,
            ctx.request_id,
            "update",
            "locality",
            entity_id=ident,
            entity_key=locality.key,
            before=before,
            after=audit.snapshot(locality),
        )
    return Outcome(
        200, locality_detail(Reader.on(session), ident), _locality_path(ident), is_item=True
    )


def delete_locality(
    session: Session, ctx: WriteContext, ident: int, if_match: str | None
) -> Outcome:
    locality = _editable_locality(session, ident, if_match)
    using = []
    for label, model, condition in (
        ("localities", Locality, col(Locality.parent_id) == ident),
        (
            "organizations",
            Branch,
            or_(
                col(Branch.locality_id) == ident,
                col(Branch.province_id) == ident,
                col(Branch.district_id) == ident,
                col(Branch.commune_id) == ident,
            ),
        ),
        ("facts", Fact, col(Fact.locality_id) == ident),
        (
            "successions",
            LocalitySuccession,
            or_(
                col(LocalitySuccession.predecessor_id) == ident,
                col(LocalitySuccession.successor_id) == ident,
            ),
        ),
    ):
        if n := _count(session, model, condition):
            using.append(f"{n} {label}")
    if using:
        raise _refusal("Locality", ident, using)
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "delete",
        "locality",
        entity_id=ident,
        entity_key=locality.key,
        before=audit.snapshot(locality),
    )
    session.delete(locality)
    refresh(session, ctx, [], localities=[ident])
    return Outcome(204)


# -- Branches -------------------------------------------------------------------------
def _branch_path(ident: int) -> str:
    return f"/branches/{ident}"


def _branch_values(
    session: Session,
    body: BranchCreate,
    row_id: int | None = None,
    patch: BranchUpdate | None = None,
) -> tuple[dict[str, Any], Any]:
    locality = referenced(session, Locality, body.locality_id, "body.locality_id", "locality")
    parent = referenced(session, Branch, body.parent_id, "body.parent_id", "organization")
    source = referenced(session, Source, body.source_id, "body.source_id", "source")
    errors = quote_errors(source, body.quote)
    errors += _tree_errors(session, Branch, row_id, body.kind, parent, _placing_field(patch))
    moved = patch is None or "parent_id" in patch.model_fields_set
    if parent is not None and moved and (why := too_deep(session, Branch, row_id, parent.id)):
        errors.append(FieldError(field="body.parent_id", message=why))
    if body.name is None and body.group_size is None:
        errors.append(
            FieldError(
                field="body.name",
                message="an organization needs a name, or a group_size for an unnamed group",
                type="missing",
            )
        )
    elif body.name is not None and body.group_size is not None:
        # Named by the field the change sent (a PATCH of group_size on a named branch).
        sent = patch.model_fields_set if patch is not None else set()
        field = "body.name" if "name" in sent and "group_size" not in sent else "body.group_size"
        errors.append(FieldError(field=field, message=GROUP_WITH_A_NAME))
    if body.founded_on and body.dissolved_on and body.dissolved_on < body.founded_on:
        # Named by the date the change sent, when it sent one of them only.
        sent = patch.model_fields_set if patch is not None else set()
        if "founded_on" in sent and "dissolved_on" not in sent:
            errors.append(FieldError(field="body.founded_on", message="after dissolved_on"))
        else:
            errors.append(FieldError(field="body.dissolved_on", message="before founded_on"))
    elif (
        row_id is not None
        and patch is not None
        and {"founded_on", "dissolved_on"} & patch.model_fields_set
    ):
        errors += _lifetime_errors(session, row_id, body)
    names = branch_search_fields(body.name, body.description)
    if why := unfit_search_fields(Branch, names):
        searched = "body.description" if body.description else "body.name"
        errors.append(FieldError(field=searched, message=why))
    if errors:
        raise invalid(errors)
    values = body.model_dump(exclude={"key"}) | names._asdict()
    return values, locality


# The figures named when a new founding or dissolution contradicts them: enough to see
# which, not a list of every one.
NAMED_FIGURES = 5


def _lifetime_errors(session: Session, ident: int, body: BranchCreate) -> list[FieldError]:
    """The branch's figures that its new dates would put outside its lifetime."""
    outside = figures_outside(session, ident, body.founded_on, body.dissolved_on)
    return [
        FieldError(
            field=f"body.{found.branch_field}",
            message=found.of_the_branch(),
            type="outside_lifetime",
        )
        for found in outside[:NAMED_FIGURES]
    ]


def create_branch(session: Session, ctx: WriteContext, body: BranchCreate) -> Outcome:
    taken(session, Branch, body.key, "body.key")
    values, locality = _branch_values(session, body)
    branch = Branch.model_validate(values | {"key": body.key})
    set_branch_place(branch, locality)
    session.add(branch)
    session.flush()
    assert branch.id is not None
    # Lists join branch_status: without a status row, the new branch would not be listed.
    refresh(session, ctx, [branch.id])
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "create",
        "branch",
        entity_id=branch.id,
        entity_key=branch.key,
        after=audit.snapshot(branch),
    )
    return Outcome(
        201,
        branch_detail(Reader.on(session), branch.id, ctx.rules, None),
        _branch_path(branch.id),
        is_item=True,
    )


def _locked_branch(session: Session, ctx: WriteContext, ident: int, if_match: str | None) -> Branch:
    branch = get_for_update(session, Branch, ident, "Branch")
    current = branch_detail(Reader.on(session), ident, ctx.rules, None)
    check_if_match(if_match, representation_etag(current), _branch_path(ident))
    return branch


def update_branch(
    session: Session, ctx: WriteContext, ident: int, patch: BranchUpdate, if_match: str | None
) -> Outcome:
    branch = _locked_branch(session, ctx, ident, if_match)
    merged = merge(BranchCreate, branch.model_dump(), patch)
    if loops(session, Branch, ident, merged.parent_id):
        raise invalid(
            [FieldError(field="body.parent_id", message="would put the organization under itself")]
        )
    values, locality = _branch_values(session, merged, ident, patch)
    before = audit.snapshot(branch)
    note_stale(session, [branch.commune_id])  # if it moves, its old commune's totals change
    if assign(branch, values):
        set_branch_place(branch, locality)
        session.add(branch)
        refresh(session, ctx, [ident])
        audit.record(
            session,
            ctx.caller,
            ctx.request_id,
            "update",
            "branch",
            entity_id=ident,
            entity_key=branch.key,
            before=before,
            after=audit.snapshot(branch),
        )
    return Outcome(
        200,
        branch_detail(Reader.on(session), ident, ctx.rules, None),
        _branch_path(ident),
        is_item=True,
    )


def delete_branch(session: Session, ctx: WriteContext, ident: int, if_match: str | None) -> Outcome:
    branch = _locked_branch(session, ctx, ident, if_match)
    using = figures_using(session, "branch", ident)
    # No route writes them: their article's file, imported without them, removes them.
    if n := _count(session, Officeholder, Officeholder.branch_id == ident):
        using.append(
            f"{n} officeholders (an import of their article's file without them removes them)"
        )
    if n := _count(session, Branch, col(Branch.parent_id) == ident):
        using.append(f"{n} organizations under it (/branches?parent={ident})")
    if using:
        raise _refusal("Branch", ident, using)
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "delete",
        "branch",
        entity_id=ident,
        entity_key=branch.key,
        before=audit.snapshot(branch),
    )
    session.execute(delete(BranchStatus).where(col(BranchStatus.branch_id) == ident))
    session.delete(branch)
    session.flush()
    return Outcome(204)
