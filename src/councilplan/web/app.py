"""The JSON API: a thin FastAPI layer over ``councils.service``; the OpenAPI document is at
``/openapi.json`` and the interactive docs at ``/docs``. Reference: docs/api.md.

Every endpoint names who is asking (cookie or bearer token) and hands the act to one service
function, which checks who may do it and runs it in one transaction. Refusals come back as
``{"detail": {"reason", "message", "field"}}`` with 403 (not allowed), 404 (no such thing),
409 (conflicts with what is on record) or 422 (bad input).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import AfterValidator, BaseModel, Field

from councilplan.councils import counting
from councilplan.councils import service as svc
from councilplan.web import auth, guards
from councilplan.web.fastpath import FastVotes

MAX_ID = 2**31 - 1


def _clean(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates; refuse them here with a 422.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Short = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_clean)]
Long = Annotated[str, Field(min_length=1, max_length=20_000), AfterValidator(_clean)]
ShareText = Annotated[
    str,
    Field(min_length=1, max_length=20, pattern=guards.SHARE_PATTERN, examples=["1/4"]),
    AfterValidator(_clean),
]
Hours = Annotated[
    Decimal, Field(gt=0, max_digits=14, decimal_places=4), AfterValidator(guards.bounded_hours)
]
When = Annotated[datetime, AfterValidator(guards.in_calendar)]


class Strict(BaseModel):
    model_config = {"extra": "forbid"}


class AccountIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    password: Annotated[str, Field(min_length=8, max_length=1024), AfterValidator(_clean)]
    display_name: Annotated[str, Field(max_length=200), AfterValidator(_clean)] = ""


class LoginIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean)]
    password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_clean)]


class PasswordIn(Strict):
    old_password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_clean)]
    new_password: Annotated[str, Field(min_length=8, max_length=1024), AfterValidator(_clean)]


class CouncilIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
    kind: Literal["workplace", "consumer", "federation"]
    description: Annotated[str, Field(max_length=20_000), AfterValidator(_clean)] = ""
    recall_share: ShareText = "1/4"
    weighted_votes: bool = False


class AffiliationIn(Strict):
    council_id: Id
    seats: Annotated[int, Field(ge=1, le=100)] = 1
    weight: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class MotionIn(Strict):
    title: Short
    text: Long


class AmendmentIn(Strict):
    text: Long


class BallotIn(Strict):
    title: Short
    rule: Literal["yes_no", "approval", "schulze"]
    closes_at: When
    options: Annotated[list[Short], Field(max_length=200)] | None = None
    motion_id: Id | None = None
    quorum: ShareText = "0"
    majority: ShareText = "1/2"
    secret: bool = False
    seats: Annotated[int, Field(ge=1, le=200)] = 1


class VoteIn(Strict):
    choice: Literal["yes", "no", "abstain"] | Annotated[list[Short], Field(max_length=200)] = Field(
        description="yes_no: 'yes', 'no' or 'abstain'; approval: the options approved; "
        "schulze and elections: options ranked, most preferred first"
    )


class ElectionIn(Strict):
    federation_id: Id
    mandate: Long
    closes_at: When
    candidates: Annotated[list[Id], Field(max_length=200)] = []
    seats: Annotated[int, Field(ge=1, le=100)] | None = None
    nominations_close_at: When | None = None


class NominationIn(Strict):
    candidate_id: Id


class RecallIn(Strict):
    reason: Long


class BudgetIn(Strict):
    title: Short
    hours: Hours
    proposals_close_at: When
    closes_at: When


class ProposalIn(Strict):
    title: Short
    cost_hours: Hours


HoursText = Annotated[
    str, Field(max_length=30, pattern=r"^[0-9]{1,10}([./][0-9]{1,6})?$", examples=["7.5", "3/4"])
]
Vote = Literal["yes", "no", "abstain"]
Votes = Annotated[
    dict[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}$")], Vote],
    Field(max_length=100, description="commissioner account id -> vote"),
]


class CommissionIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
    workplace_council_id: Id
    federation_id: Id
    seats_per_side: Annotated[int, Field(ge=1, le=50)] = 1


class SeatIn(Strict):
    side: Literal["workplace", "planning"]


class DisputeIn(Strict):
    subject: Literal["work_norm", "recorded_hours"]
    target: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
    current_hours: HoursText
    claimed_hours: HoursText
    grounds: Annotated[str, Field(max_length=20_000), AfterValidator(_clean)] = ""
    worker_id: Id | None = None
    for_council: bool = False


class HearingIn(Strict):
    present: Annotated[list[Id], Field(min_length=1, max_length=100)]


class DecisionIn(Strict):
    hours: HoursText
    vote: Annotated[Vote, Field(description="my own seat's vote on these hours")]


class AppealIn(Strict):
    grounds: Annotated[str, Field(max_length=20_000), AfterValidator(_clean)] = ""


class FinalIn(Strict):
    hours: HoursText | None = None
    vote: Annotated[Vote | None, Field(description="my own seat's vote on an appeal")] = None


Me = Annotated[int, Depends(auth.current_account)]


async def _store(request: Request) -> svc.Store:  # async: no I/O, no thread hop
    return request.app.state.store


StoreDep = Annotated[svc.Store, Depends(_store)]


def _out(value: Any) -> Any:
    return svc.as_dict(value)


def refusal(error: Exception) -> JSONResponse | None:
    """The answer to an act the service or the database refused; None for any other error."""
    if isinstance(error, svc.Refused):
        detail = {"reason": error.reason, "message": error.message, "field": error.field}
        return JSONResponse({"detail": detail}, status_code=error.status)
    if isinstance(error, svc.GuardRefused):
        detail = {"reason": "refused_by_database", "message": str(error), "field": None}
        return JSONResponse({"detail": detail}, status_code=409)
    if isinstance(error, counting.CountingError):
        detail = {
            "reason": "cannot_count",
            "message": str(error),
            "field": error.where.field if error.where else None,
        }
        return JSONResponse({"detail": detail}, status_code=422)
    return None


def create_app(
    store: svc.Store,
    *,
    close_every_s: float | None = 30.0,
    fast_votes: bool = True,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """The API over ``store``. Every ``close_every_s`` seconds ballots past their closing time
    are closed and counted (None: only when someone asks, POST /api/ballots/{id}/close).
    ``fast_votes``: votes answered by :class:`~councilplan.web.fastpath.FastVotes` (the same
    answers, for less CPU); False: by the route alone (the tests compare the two).
    ``max_body_bytes``: the most a request body may hold (None: $COUNCILPLAN_MAX_BODY_BYTES,
    else 128 KiB; see :mod:`councilplan.web.guards`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sync endpoints run in AnyIO's thread pool (40 threads by default). Each act spends
        # most of its time waiting on the database, but past a few threads per core more only
        # adds GIL hand-offs and context switches: measured with benchmarks/service.py.
        threads = int(os.environ.get("COUNCILPLAN_THREADS", "0"))
        if threads > 0:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        task = None
        if close_every_s:

            async def closer():
                while True:
                    await asyncio.sleep(close_every_s)
                    with contextlib.suppress(Exception):  # retried next round
                        await asyncio.to_thread(svc.close_due_ballots, store)
                        await asyncio.to_thread(svc.apply_dispute_deadlines, store)

            task = asyncio.create_task(closer())
        # PostgreSQL's async pool for the vote endpoint (a store without one: nothing to open).
        open_async = getattr(store, "open_async", None)
        close_async = getattr(store, "close_async", None)
        if open_async is not None:
            await open_async()
        # What start-up built (modules, the app, pools) lives as long as the server: keep it
        # out of the cycle collector's full passes, which otherwise walk it all every time and
        # stall every request in flight (the long tail of vote latencies under load).
        gc.collect()
        gc.freeze()
        yield
        if task:
            task.cancel()
        if close_async is not None:
            await close_async()

    app = FastAPI(
        title="councilplan",
        version="0.1.0",
        description="Councils, delegates, motions, ballots, budgets and the record. "
        "Log in with POST /api/session (cookie) or POST /api/tokens (bearer token).",
        lifespan=lifespan,
    )
    app.state.store = store

    @app.exception_handler(svc.Refused)
    @app.exception_handler(svc.GuardRefused)
    @app.exception_handler(counting.CountingError)
    async def refused(_request: Request, error: Exception) -> JSONResponse:
        return refusal(error)

    if fast_votes:
        app.add_middleware(
            FastVotes, store=store, vote_model=VoteIn, max_id=MAX_ID, refusal=refusal
        )
    guards.install(app, max_body_bytes=max_body_bytes)  # outermost; before the routes

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> RedirectResponse:
        """The server's address leads to its interactive API docs."""
        return RedirectResponse(request.scope.get("root_path", "") + app.docs_url)

    # -- accounts and sessions -----------------------------------------------------------------

    @app.post("/api/accounts", status_code=201, tags=["accounts"])
    def register(body: AccountIn, store: StoreDep) -> dict:
        """Open an account (the password is stored only as an argon2 hash)."""
        account_id = svc.register_account(
            store,
            username=body.username,
            display_name=body.display_name or body.username,
            password_hash=auth.hash_password(body.password),
        )
        return {"id": account_id, "username": body.username}

    def _log_in(request: Request, store, body: LoginIn, kind: str) -> tuple[int, str]:
        """(account id, token) for a right password, through the login throttle; else 401."""
        found = auth.login(
            store,
            body.username,
            body.password,
            kind=kind,
            address=request.client.host if request.client else None,
            throttle=auth.throttle_for(request.app),
        )
        if found is None:
            raise _bad_login()
        return found

    @app.post("/api/session", tags=["accounts"])
    def log_in(body: LoginIn, response: Response, request: Request, store: StoreDep) -> dict:
        """Log in a browser: sets an HttpOnly session cookie."""
        found = _log_in(request, store, body, "session")
        response.set_cookie(
            auth.COOKIE,
            found[1],
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=auth.SESSION_DAYS * 86400,
        )
        return {"account_id": found[0]}

    @app.delete("/api/session", tags=["accounts"])
    def log_out(
        response: Response, _me: Me, token: str | None = Depends(auth.presented_token)
    ) -> dict:
        """End this session (or revoke this bearer token)."""
        if token:
            auth.logout(app.state.store, token)
        response.delete_cookie(auth.COOKIE)
        return {"logged_out": True}

    @app.post("/api/tokens", status_code=201, tags=["accounts"])
    def bearer_token(body: LoginIn, request: Request, store: StoreDep) -> dict:
        """A bearer token for scripts: send ``Authorization: Bearer <token>``."""
        found = _log_in(request, store, body, "bearer")
        return {"account_id": found[0], "token": found[1], "token_type": "bearer"}

    @app.delete("/api/tokens", tags=["accounts"])
    def revoke_tokens(response: Response, me: Me, store: StoreDep) -> dict:
        """Revoke every token and session of mine, this one included."""
        revoked = auth.revoke_all(store, me)
        response.delete_cookie(auth.COOKIE)
        return {"revoked": revoked}

    @app.post("/api/me/password", tags=["accounts"])
    def change_password(
        body: PasswordIn,
        request: Request,
        me: Me,
        store: StoreDep,
        token: str | None = Depends(auth.presented_token),
    ) -> dict:
        """Change my password (the old one required); every other token of mine is revoked."""
        revoked = auth.change_password(
            store,
            me,
            body.old_password,
            body.new_password,
            keep_token=token,
            address=request.client.host if request.client else None,
            throttle=auth.throttle_for(request.app),
        )
        if revoked is None:
            raise HTTPException(
                status_code=403,
                detail={
                    "reason": "wrong_password",
                    "field": "old_password",
                    "message": "the old password is wrong",
                },
            )
        return {"changed": True, "revoked": revoked}

    @app.get("/api/me", tags=["accounts"])
    def me(me: Me, store: StoreDep) -> dict:
        """Who I am, the councils I belong to and the mandates I hold."""
        with store.transaction() as tx:
            account = tx.get("accounts", me)
            councils = tx.find("memberships", {"account_id": me, "left_at": None}, order_by="id")
            mandates = tx.find("delegates", {"account_id": me, "ended_at": None}, order_by="id")
            seats = tx.find("commission_seats", {"account_id": me, "left_at": None})
        return _out(
            {
                "id": me,
                "username": account["username"],
                "display_name": account["display_name"],
                "councils": [m["council_id"] for m in councils],
                "delegacies": mandates,
                "commission_seats": seats,
            }
        )

    # -- councils --------------------------------------------------------------------------------

    @app.get("/api/councils", tags=["councils"])
    def councils(_me: Me, store: StoreDep) -> list[dict]:
        return _out(svc.list_councils(store))

    @app.post("/api/councils", status_code=201, tags=["councils"])
    def found_council(body: CouncilIn, me: Me, store: StoreDep) -> dict:
        """Found a council; the founder of a workplace or consumer council is its first member."""
        return _out(svc.create_council(store, founder_id=me, **body.model_dump()))

    @app.get("/api/councils/{council_id}", tags=["councils"])
    def council(council_id: PathId, _me: Me, store: StoreDep) -> dict:
        return _out(svc.get_council(store, council_id))

    @app.get("/api/councils/{council_id}/members", tags=["councils"])
    def council_members(
        council_id: PathId, _me: Me, store: StoreDep, current: bool = True
    ) -> list[dict]:
        """Members with join and leave dates (a federation: its delegates)."""
        return _out(svc.members(store, council_id, current=current))

    @app.post("/api/councils/{council_id}/join", status_code=201, tags=["councils"])
    def join(council_id: PathId, me: Me, store: StoreDep) -> dict:
        return _out(svc.join_council(store, council_id=council_id, account_id=me))

    @app.post("/api/councils/{council_id}/leave", tags=["councils"])
    def leave(council_id: PathId, me: Me, store: StoreDep) -> dict:
        return _out(svc.leave_council(store, council_id=council_id, account_id=me))

    @app.post("/api/federations/{federation_id}/councils", status_code=201, tags=["councils"])
    def affiliate(federation_id: PathId, body: AffiliationIn, me: Me, store: StoreDep) -> dict:
        """Affiliate a council (of which I am a member) with a federation."""
        return _out(
            svc.join_federation(
                store, federation_id=federation_id, actor_id=me, **body.model_dump()
            )
        )

    # -- motions and ballots ---------------------------------------------------------------------

    @app.post("/api/councils/{council_id}/motions", status_code=201, tags=["motions"])
    def table(council_id: PathId, body: MotionIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.table_motion(
                store, council_id=council_id, member_id=me, title=body.title, text=body.text
            )
        )

    @app.get("/api/motions/{motion_id}", tags=["motions"])
    def get_motion(motion_id: PathId, _me: Me, store: StoreDep) -> dict:
        return _out(svc.motion(store, motion_id))

    @app.post("/api/motions/{motion_id}/amendments", status_code=201, tags=["motions"])
    def amend(motion_id: PathId, body: AmendmentIn, me: Me, store: StoreDep) -> dict:
        return _out(svc.amend_motion(store, motion_id=motion_id, member_id=me, text=body.text))

    @app.get("/api/councils/{council_id}/ballots", tags=["ballots"])
    def ballots(council_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
        return _out(svc.list_ballots(store, council_id))

    @app.post("/api/councils/{council_id}/ballots", status_code=201, tags=["ballots"])
    def open_ballot(council_id: PathId, body: BallotIn, me: Me, store: StoreDep) -> dict:
        """Put a question to the council's vote until ``closes_at``."""
        return _out(
            svc.open_ballot(store, council_id=council_id, opened_by=me, **body.model_dump())
        )

    @app.get("/api/ballots/{ballot_id}", tags=["ballots"])
    def ballot(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
        return _out(svc.get_ballot(store, ballot_id))

    @app.post("/api/ballots/{ballot_id}/votes", status_code=201, tags=["ballots"])
    async def vote(
        ballot_id: PathId,
        body: VoteIn,
        store: StoreDep,
        token: Annotated[str, Depends(auth.required_token)],
    ) -> dict:
        """Cast my vote; a second vote is refused (409 already_voted)."""
        # The API's busiest request, served on the event loop where the store can (PostgreSQL:
        # the token and the vote are each one awaited call); see docs/api.md, Performance.
        me = await auth.account_or_401_async(store, token)
        receipt = await svc.cast_vote_async(
            store, ballot_id=ballot_id, voter_id=me, choice=body.choice
        )
        return _out(receipt)

    @app.get("/api/ballots/{ballot_id}/votes", tags=["ballots"])
    def votes(ballot_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
        """Who voted what, on open ballots only (403 secret_ballot otherwise)."""
        return _out(svc.open_votes(store, ballot_id))

    @app.get("/api/ballots/{ballot_id}/participation", tags=["ballots"])
    def turnout(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
        return {"ballot_id": ballot_id, "voters": svc.participation(store, ballot_id)}

    @app.post("/api/ballots/{ballot_id}/close", tags=["ballots"])
    def close(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
        """Close and count a ballot whose closing time has passed."""
        return _out(svc.close_ballot(store, ballot_id=ballot_id))

    @app.get("/api/ballots/{ballot_id}/recount", tags=["ballots"])
    def recount(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
        """Count a closed ballot again from its stored votes and compare."""
        return _out(svc.recount(store, ballot_id))

    # -- delegates -------------------------------------------------------------------------------

    @app.post("/api/councils/{council_id}/elections", status_code=201, tags=["delegates"])
    def election(council_id: PathId, body: ElectionIn, me: Me, store: StoreDep) -> dict:
        """Elect the council's delegates to a federation, with a written mandate."""
        return _out(
            svc.open_election(store, council_id=council_id, opened_by=me, **body.model_dump())
        )

    @app.post("/api/ballots/{ballot_id}/nominations", tags=["delegates"])
    def nominate(ballot_id: PathId, body: NominationIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.nominate(store, ballot_id=ballot_id, member_id=me, candidate_id=body.candidate_id)
        )

    @app.get("/api/delegates", tags=["delegates"])
    def delegates(
        _me: Me,
        store: StoreDep,
        federation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        council_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        current: bool = True,
    ) -> list[dict]:
        return _out(
            svc.delegates(
                store, federation_id=federation_id, council_id=council_id, current=current
            )
        )

    @app.post("/api/delegates/{delegate_id}/recalls", status_code=201, tags=["delegates"])
    def recall(delegate_id: PathId, body: RecallIn, me: Me, store: StoreDep) -> dict:
        """Open a recall of a delegate of my council (my support counts at once)."""
        return _out(
            svc.open_recall(store, delegate_id=delegate_id, member_id=me, reason=body.reason)
        )

    @app.post("/api/recalls/{recall_id}/support", tags=["delegates"])
    def support(recall_id: PathId, me: Me, store: StoreDep) -> dict:
        return _out(svc.support_recall(store, recall_id=recall_id, member_id=me))

    @app.get("/api/recalls/{recall_id}", tags=["delegates"])
    def get_recall(recall_id: PathId, _me: Me, store: StoreDep) -> dict:
        return _out(svc.get_recall(store, recall_id))

    # -- budgets ---------------------------------------------------------------------------------

    @app.post("/api/councils/{council_id}/budgets", status_code=201, tags=["budgets"])
    def budget(council_id: PathId, body: BudgetIn, me: Me, store: StoreDep) -> dict:
        """Allocate hours of labour among proposals by approval vote (equal shares)."""
        return _out(
            svc.open_budget(store, council_id=council_id, opened_by=me, **body.model_dump())
        )

    @app.post("/api/budgets/{budget_id}/proposals", status_code=201, tags=["budgets"])
    def propose(budget_id: PathId, body: ProposalIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.propose_project(
                store,
                budget_id=budget_id,
                member_id=me,
                title=body.title,
                cost_hours=body.cost_hours,
            )
        )

    @app.get("/api/budgets/{budget_id}", tags=["budgets"])
    def get_budget(budget_id: PathId, _me: Me, store: StoreDep) -> dict:
        return _out(svc.get_budget(store, budget_id))

    # -- the rates-and-conflicts commission ------------------------------------------------------

    @app.post("/api/commissions", status_code=201, tags=["commission"])
    def commission(body: CommissionIn, me: Me, store: StoreDep) -> dict:
        """Set up a commission between a workplace council and a planning federation."""
        return _out(svc.create_commission(store, actor_id=me, **body.model_dump()))

    @app.post("/api/commissions/{commission_id}/seats", status_code=201, tags=["commission"])
    def take_seat(commission_id: PathId, body: SeatIn, me: Me, store: StoreDep) -> dict:
        """Take a seat for my side (workplace member or federation delegate)."""
        return _out(
            svc.take_commission_seat(
                store, commission_id=commission_id, account_id=me, side=body.side
            )
        )

    @app.post("/api/commissions/{commission_id}/disputes", status_code=201, tags=["commission"])
    def file(commission_id: PathId, body: DisputeIn, me: Me, store: StoreDep) -> dict:
        """File a dispute about a work norm or recorded hours."""
        return _out(
            svc.file_dispute(store, commission_id=commission_id, filer_id=me, **body.model_dump())
        )

    @app.get("/api/disputes", tags=["commission"])
    def my_cases(me: Me, store: StoreDep) -> list[dict]:
        """Cases before the commissions where I hold a seat, and my own."""
        return _out(svc.my_disputes(store, viewer_id=me))

    @app.get("/api/disputes/{dispute_id}", tags=["commission"])
    def case(dispute_id: PathId, me: Me, store: StoreDep) -> dict:
        return _out(svc.get_dispute(store, dispute_id=dispute_id, viewer_id=me))

    @app.post("/api/disputes/{dispute_id}/hearing", tags=["commission"])
    def hearing(dispute_id: PathId, body: HearingIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.hear_dispute(store, dispute_id=dispute_id, actor_id=me, present=body.present)
        )

    @app.post("/api/disputes/{dispute_id}/decision", tags=["commission"])
    def decision(dispute_id: PathId, body: DecisionIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.decide_dispute(
                store, dispute_id=dispute_id, actor_id=me, hours=body.hours, vote=body.vote
            )
        )

    @app.post("/api/disputes/{dispute_id}/appeal", tags=["commission"])
    def appeal(dispute_id: PathId, body: AppealIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.appeal_dispute(store, dispute_id=dispute_id, actor_id=me, grounds=body.grounds)
        )

    @app.post("/api/disputes/{dispute_id}/final", tags=["commission"])
    def final(dispute_id: PathId, body: FinalIn, me: Me, store: StoreDep) -> dict:
        return _out(
            svc.finalise_dispute(
                store, dispute_id=dispute_id, actor_id=me, hours=body.hours, vote=body.vote
            )
        )

    # -- the record ------------------------------------------------------------------------------

    @app.get("/api/audit", tags=["audit"])
    def audit(
        _me: Me,
        store: StoreDep,
        after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict]:
        """Entries of the record after seq ``after``, oldest first."""
        return _out(store.audit_entries(after=after, limit=limit))

    @app.get("/api/audit/verify", tags=["audit"])
    def audit_verify(_me: Me, store: StoreDep) -> dict:
        """Recompute the hash chain; names the first entry altered, removed or reordered."""
        return _out(store.verify_audit())

    return app


def _bad_login() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={
            "reason": "bad_login",
            "field": "password",
            "message": "username or password is wrong",
        },
    )
