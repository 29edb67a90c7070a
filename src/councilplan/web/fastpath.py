"""The vote endpoint, ``POST /api/ballots/{id}/votes``, served without FastAPI's request
machinery.

A vote is the API's busiest request, and FastAPI's dependency resolution, validation and
encoding cost the server more CPU than the vote itself (benchmarks/service.py; docs/api.md).
So :class:`FastVotes`, an ASGI middleware, answers the well-formed votes itself and hands every
other request on to the app unchanged: a vote without a token, an unknown or expired one, a body
that does not validate, a path id out of range, an unusual content type or size. The route in
``web/routers/ballots.py`` stays, documents the endpoint and serves what is handed on; both use
the same token lookup, request model, service call and refusal answers, and
``tests/test_api_votes.py`` runs its tests through both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from councilplan.councils import service as svc
from councilplan.web import auth

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

_VOTE_PATH = re.compile(r"/api/ballots/([1-9][0-9]{0,9})/votes")
_MAX_BODY = 1 << 20  # larger bodies (never a valid vote) go to the app, which reads them as it will


class FastVotes:
    """ASGI middleware: well-formed votes answered here, everything else by ``app``."""

    def __init__(
        self,
        app: Callable,
        *,
        store: svc.Store,
        vote_model: type[BaseModel],
        max_id: int,
        refusal: Callable[[Exception], JSONResponse | None],
    ):
        self.app = app
        self.store = store
        self.vote_model = vote_model
        self.max_id = max_id
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or (match := _VOTE_PATH.fullmatch(scope["path"])) is None
            or (ballot_id := int(match[1])) > self.max_id
        ):
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        if not _json_of_known_size(request):
            return await self.app(scope, receive, send)
        body = await request.body()
        receive = _replay(body, receive)  # what is handed on reads the same bytes again
        token = await auth.presented_token(request, await auth.bearer_scheme(request))
        choice = _choice(self.vote_model, body)
        if not token or choice is _INVALID:
            return await self.app(scope, receive, send)
        account_id = await auth.account_for_token_async(self.store, token)
        if account_id is None:
            return await self.app(scope, receive, send)
        try:
            receipt = await svc.cast_vote_async(
                self.store, ballot_id=ballot_id, voter_id=account_id, choice=choice
            )
        except Exception as error:
            response = self.refusal(error)
            if response is None:
                raise  # as from the route: ServerErrorMiddleware's 500
        else:
            # As FastAPI answers a route returning a dict: its jsonable_encoder leaves this one
            # (four integers) as it is, so it is skipped.
            response = JSONResponse(svc.as_dict(receipt), status_code=201)
        await response(scope, receive, send)


_INVALID = object()


def _json_of_known_size(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    length = request.headers.get("content-length", "")
    return (
        content_type.split(";", 1)[0].strip().lower() == "application/json"
        and length.isdigit()
        and int(length) <= _MAX_BODY
    )


def _choice(model: type[BaseModel], body: bytes) -> Any:
    """The vote's choice as the route would validate it (FastAPI decodes with json.loads and
    validates the result in Python mode), or _INVALID: the app then names what is wrong."""
    try:
        return model.model_validate(json.loads(body)).choice
    # ValueError: json's JSONDecodeError, UnicodeDecodeError and an integer too long to read;
    # RecursionError: arrays nested past the recursion limit (the route names each one).
    except (ValueError, RecursionError, ValidationError):
        return _INVALID


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read once more, then waits on the client."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict:
        return pending.pop() if pending else await receive()

    return replayed
