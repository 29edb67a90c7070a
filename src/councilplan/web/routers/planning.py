"""The planning cycle (docs/planning-cycle.md): economy bundles, planning periods, the councils'
statements, plan variants, participatory rounds, the adoption ballot, and what the adopted plan
means for each council.

No plan is computed inside a request: asking for a variant queues it (202) and a worker
(``svc.run_jobs``) computes it; ``GET /api/variants/{id}`` shows its progress. The period's,
statements' and adoption ballots are voted on and closed through the ballot endpoints, whose
close carries out what they decide.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import (
    DIGEST_PATTERN,
    MAX_ID,
    AdoptionIn,
    BundleName,
    NeedsIn,
    PeriodIn,
    RoundAnswerIn,
    StatementBallotIn,
    TechniquesIn,
    VariantIn,
)

router = APIRouter(tags=["planning"], route_class=guards.JSONRoute)

#: The most bytes a bundle's archive may have when uploaded (the server's body limit,
#: COUNCILPLAN_MAX_BODY_BYTES, applies first: raise it to upload bundles larger than it).
MAX_BUNDLE_UPLOAD_BYTES = guards.BUNDLE_BYTES
BUNDLE_MEDIA_TYPE = "application/zip"
#: What an upload may be sent as: the archive's own type, or bytes with no type named.
UPLOAD_MEDIA_TYPES = (BUNDLE_MEDIA_TYPE, "application/octet-stream")
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_ZIP_BODY = {BUNDLE_MEDIA_TYPE: _BINARY}

DigestPath = Annotated[str, Path(pattern=DIGEST_PATTERN)]


# -- bundles ---------------------------------------------------------------------------------------


@router.post(
    "/api/bundles",
    status_code=201,
    openapi_extra={
        "requestBody": {"required": True, "content": {t: _BINARY for t in UPLOAD_MEDIA_TYPES}}
    },
)
async def add_bundle(
    request: Request,
    name: Annotated[BundleName, Query(min_length=1, max_length=200)],
    me: Me,
    store: StoreDep,
) -> dict:
    """Keep an economy bundle, the body being its archive as ``councilplan`` packs it
    (``Content-Type: application/zip`` or ``application/octet-stream``); answers the bundle,
    named by the archive's SHA-256. A bundle already kept is answered as it is. A current
    delegate to some federation may add one."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in UPLOAD_MEDIA_TYPES:
        raise HTTPException(
            415,
            {
                "reason": "unsupported_media_type",
                "field": "content-type",
                "message": "send the bundle's archive with Content-Type: "
                + " or ".join(UPLOAD_MEDIA_TYPES),
            },
        )
    archive = await _body_within(request, MAX_BUNDLE_UPLOAD_BYTES)
    bundle = await run_in_threadpool(svc.add_bundle, store, actor_id=me, name=name, archive=archive)
    return svc.as_dict(bundle)


async def _body_within(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 once it is over ``limit`` bytes (by its declared
    length before anything is read, else as it arrives)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _bundle_too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _bundle_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _bundle_too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        {
            "reason": "bundle_too_large",
            "field": "body",
            "message": f"the bundle's archive is over {limit:,} bytes, the most this server "
            "takes; write its large tables as Parquet",
        },
        headers={"Connection": "close"},
    )


@router.get("/api/bundles/{digest}")
def bundle(digest: DigestPath, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.get_bundle(store, digest))


@router.get(
    "/api/bundles/{digest}/archive",
    response_class=Response,
    responses={200: {"content": _ZIP_BODY, "description": "The archive, as kept"}},
)
def bundle_archive(digest: DigestPath, _me: Me, store: StoreDep) -> Response:
    """The bundle's archive as kept (its SHA-256 is ``digest``): whoever reads it can compute
    the period's plans again."""
    return Response(
        svc.bundle_archive(store, digest),
        media_type=BUNDLE_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="bundle-{digest[:12]}.zip"'},
    )


# -- periods ---------------------------------------------------------------------------------------


@router.post("/api/federations/{federation_id}/periods", status_code=201)
def propose_period(federation_id: PathId, body: PeriodIn, me: Me, store: StoreDep) -> dict:
    """Propose a planning period to the federation's yes/no vote (``ballot_id``), open until
    ``ballot_closes_at``; carried, the period opens. Its stages follow: stating, proposing,
    deciding."""
    fields = body.model_dump(exclude={"limits", "rounds"})
    limits = body.limits.model_dump() if body.limits is not None else None
    rounds = body.rounds.model_dump(exclude_unset=True) if body.rounds is not None else None
    return svc.as_dict(
        svc.propose_period(
            store,
            federation_id=federation_id,
            actor_id=me,
            limits=limits,
            rounds=rounds,
            **fields,
        )
    )


@router.get("/api/federations/{federation_id}/periods")
def periods(federation_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    return svc.as_dict(svc.list_periods(store, federation_id))


@router.get("/api/periods/{period_id}")
def period(period_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The period, with the ``stage`` it is in now."""
    return svc.as_dict(svc.get_period(store, period_id))


# -- statements ------------------------------------------------------------------------------------


@router.post("/api/periods/{period_id}/councils/{council_id}/needs", status_code=201)
def state_needs(
    period_id: PathId, council_id: PathId, body: NeedsIn, me: Me, store: StoreDep
) -> dict:
    """A consumer council's needs, stated by its delegate to the federation; they replace the
    council's earlier needs."""
    return svc.as_dict(
        svc.state_needs(
            store,
            period_id=period_id,
            council_id=council_id,
            actor_id=me,
            needs=body.model_dump(exclude_none=True)["needs"],
        )
    )


@router.post("/api/periods/{period_id}/councils/{council_id}/techniques", status_code=201)
def state_techniques(
    period_id: PathId, council_id: PathId, body: TechniquesIn, me: Me, store: StoreDep
) -> dict:
    """A workplace council's techniques and the hours it offers, stated by its delegate to the
    federation; they replace the council's earlier statement."""
    content = body.model_dump(exclude_none=True)
    return svc.as_dict(
        svc.state_techniques(
            store,
            period_id=period_id,
            council_id=council_id,
            actor_id=me,
            techniques=content["techniques"],
            hours=content["hours"],
        )
    )


@router.post("/api/periods/{period_id}/councils/{council_id}/statement-ballots", status_code=201)
def propose_statement(
    period_id: PathId, council_id: PathId, body: StatementBallotIn, me: Me, store: StoreDep
) -> dict:
    """Put a statement to the council's own yes/no vote (``ballot_id``), closing by the end of
    stating; carried, it is in force."""
    return svc.as_dict(
        svc.propose_statement(
            store,
            period_id=period_id,
            council_id=council_id,
            actor_id=me,
            kind=body.kind,
            content=body.content.model_dump(exclude_none=True),
            closes_at=body.closes_at,
        )
    )


@router.get("/api/periods/{period_id}/statements")
def statements(
    period_id: PathId,
    _me: Me,
    store: StoreDep,
    council_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    every: Annotated[bool, Query(alias="all", description="superseded and refused too")] = False,
) -> list[dict]:
    """The statements in force (``?all=true``: every statement), of one council or all."""
    return svc.as_dict(
        svc.list_statements(store, period_id=period_id, council_id=council_id, current=not every)
    )


# -- variants --------------------------------------------------------------------------------------


@router.post("/api/periods/{period_id}/variants", status_code=202)
def request_variant(period_id: PathId, body: VariantIn, me: Me, store: StoreDep) -> dict:
    """Ask for a plan variant (queued: a worker computes it; follow it at
    ``GET /api/variants/{id}``). ``constraints`` override the period's limits."""
    constraints = body.constraints.model_dump() if body.constraints is not None else None
    return svc.as_dict(
        svc.request_variant(
            store, period_id=period_id, actor_id=me, name=body.name, constraints=constraints
        )
    )


@router.get("/api/periods/{period_id}/variants")
def variants(period_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    return svc.as_dict(svc.list_variants(store, period_id))


@router.get("/api/variants/{variant_id}")
def variant(variant_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The variant: its status (queued, running, done, failed), its job's progress while it is
    computed, its summary and digests once done, the reason when it failed."""
    return svc.as_dict(svc.get_variant(store, variant_id))


@router.get("/api/variants/{variant_id}/plan")
def variant_plan(variant_id: PathId, _me: Me, store: StoreDep) -> dict:
    """A computed variant's published plan (409 ``not_computed`` until it is done)."""
    return svc.as_dict(svc.variant_result(store, variant_id))


# -- participatory rounds --------------------------------------------------------------------------


@router.post("/api/periods/{period_id}/rounds", status_code=201)
def open_rounds(period_id: PathId, me: Me, store: StoreDep) -> dict:
    """Start the period's rounds (if its opening asked for them): round 1 and its prices."""
    return svc.as_dict(svc.open_rounds(store, period_id=period_id, actor_id=me))


@router.get("/api/periods/{period_id}/rounds")
def rounds(period_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    return svc.as_dict(svc.list_rounds(store, period_id))


@router.get("/api/periods/{period_id}/rounds/current")
def current_round(period_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The period's latest round (open, or the last one closed), with its prices; 404 before
    the rounds begin."""
    latest = svc.current_round(store, period_id)
    if latest is None:
        raise svc.NotFound("no_rounds", f"period {period_id}'s rounds have not begun", "period_id")
    return svc.as_dict(latest)


@router.get("/api/rounds/{round_id}")
def plan_round(round_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The round, its prices (good -> price) and, once closed, its outcome."""
    return svc.as_dict(svc.get_round(store, round_id))


@router.post("/api/rounds/{round_id}/councils/{council_id}/answer")
def answer_round(
    round_id: PathId, council_id: PathId, body: RoundAnswerIn, me: Me, store: StoreDep
) -> dict:
    """The council's own answer to the round's prices, by its delegate to the federation; it
    replaces the council's earlier answer to this round."""
    return svc.as_dict(
        svc.answer_round(
            store,
            round_id=round_id,
            council_id=council_id,
            actor_id=me,
            answer=body.model_dump(exclude_none=True),
        )
    )


@router.post("/api/rounds/{round_id}/close")
def close_round(round_id: PathId, _me: Me, store: StoreDep) -> dict:
    """Close a round whose time is up: the next opens, or the rounds' outcome is queued as the
    variant ``rounds``."""
    return svc.as_dict(svc.close_round(store, round_id=round_id))


# -- adoption and what it means --------------------------------------------------------------------


@router.post("/api/periods/{period_id}/adoption", status_code=201)
def open_adoption(period_id: PathId, body: AdoptionIn, me: Me, store: StoreDep) -> dict:
    """Put the computed variants to the federation's vote (a ballot: vote and close it through
    ``/api/ballots/{id}``); the winner is the adopted plan."""
    return svc.as_dict(
        svc.open_adoption(
            store, period_id=period_id, actor_id=me, closes_at=body.closes_at, rule=body.rule
        )
    )


@router.get("/api/periods/{period_id}/councils/{council_id}/targets")
def targets(period_id: PathId, council_id: PathId, _me: Me, store: StoreDep) -> dict:
    """What the adopted plan means for the council: a workplace's targets, a consumer
    council's needs against what it gets."""
    return svc.as_dict(svc.council_targets(store, period_id=period_id, council_id=council_id))


@router.get("/api/periods/{period_id}/values")
def values(period_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The adopted plan's labour values (product -> hours per unit) and its digest."""
    return svc.as_dict(svc.plan_values(store, period_id=period_id))
