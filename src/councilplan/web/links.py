"""OpenAPI links: which operation's answer feeds which next request (issue 12).

The published document says, for example, that the ``id`` in ``POST /api/councils``'s 201 is the
``council_id`` of ``POST /api/councils/{council_id}/motions``, so a client (Swagger UI shows them
under each response) and Schemathesis' stateful tests can walk from registering an account to
voting on a ballot without guessing ids. They are declared here, in one table, rather than on
each route: the routes return free-form JSON objects, so nothing in the document would let a tool
infer that a motion's id is in ``id`` (Schemathesis' own inference guesses ``motion_id``).

Values are OpenAPI runtime expressions. A ``requestBody`` is an object whose values are
expressions; the fields it leaves out are the client's to fill. The bearer token from
``POST /api/tokens`` goes in the ``Authorization`` header of every later request, which links
cannot say (security is not a parameter), hence the links' descriptions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

Operation = tuple[str, str]  # (method, path) as in the OpenAPI document


def _link(target: Operation, description: str, **fields: Any) -> dict[str, Any]:
    return {"target": target, "description": description, **fields}


def _council(pointer: str) -> dict[str, dict[str, Any]]:
    """Links from an answer whose ``pointer`` is a council's id to what a member does there."""
    council = {"council_id": f"$response.body#{pointer}"}
    path = "/api/councils/{council_id}"
    return {
        "Council": _link(("GET", path), "The council", parameters=council),
        "Members": _link(("GET", path + "/members"), "Its members", parameters=council),
        "Applications": _link(
            ("GET", path + "/applications"), "Applications waiting", parameters=council
        ),
        "Rules": _link(("GET", path + "/rules"), "Its rules", parameters=council),
        "ChangeRules": _link(("POST", path + "/rules"), "Put a rule change", parameters=council),
        "Join": _link(("POST", path + "/join"), "Ask to join it", parameters=council),
        "Leave": _link(("POST", path + "/leave"), "Leave it", parameters=council),
        "Invite": _link(("POST", path + "/invitations"), "Invite someone", parameters=council),
        "TableMotion": _link(("POST", path + "/motions"), "Table a motion", parameters=council),
        "Ballots": _link(("GET", path + "/ballots"), "Its ballots", parameters=council),
        "OpenBallot": _link(("POST", path + "/ballots"), "Open a ballot", parameters=council),
        "Elect": _link(("POST", path + "/elections"), "Elect delegates", parameters=council),
        "Budget": _link(("POST", path + "/budgets"), "Open a budget", parameters=council),
        "Affiliate": _link(
            ("POST", "/api/federations/{federation_id}/councils"),
            "(A federation) a council asks to join it",
            parameters={"federation_id": f"$response.body#{pointer}"},
        ),
        "Commission": _link(
            ("POST", "/api/commissions"),
            "(A workplace council) a commission for its disputes",
            requestBody={"workplace_council_id": f"$response.body#{pointer}"},
        ),
        "Delegates": _link(
            ("GET", "/api/delegates"),
            "Its delegates",
            parameters={"query.council_id": f"$response.body#{pointer}"},
        ),
    }


def _ballot(pointer: str) -> dict[str, dict[str, Any]]:
    """Links from an answer whose ``pointer`` is a ballot's id."""
    ballot = {"ballot_id": f"$response.body#{pointer}"}
    path = "/api/ballots/{ballot_id}"
    return {
        "Ballot": _link(("GET", path), "The ballot", parameters=ballot),
        "Vote": _link(("POST", path + "/votes"), "Cast my vote", parameters=ballot),
        "Votes": _link(("GET", path + "/votes"), "Who voted what (open ballot)", parameters=ballot),
        "Participation": _link(("GET", path + "/participation"), "Turnout", parameters=ballot),
        "Close": _link(("POST", path + "/close"), "Close and count it", parameters=ballot),
        "Recount": _link(("GET", path + "/recount"), "Count it again", parameters=ballot),
    }


def _dispute(pointer: str) -> dict[str, dict[str, Any]]:
    dispute = {"dispute_id": f"$response.body#{pointer}"}
    path = "/api/disputes/{dispute_id}"
    return {
        "Dispute": _link(("GET", path), "The case", parameters=dispute),
        "Hearing": _link(("POST", path + "/hearing"), "Hold its hearing", parameters=dispute),
        "Decide": _link(("POST", path + "/decision"), "Decide it", parameters=dispute),
        "Appeal": _link(("POST", path + "/appeal"), "Appeal it", parameters=dispute),
        "Final": _link(("POST", path + "/final"), "The final decision", parameters=dispute),
    }


def _period(pointer: str) -> dict[str, dict[str, Any]]:
    """Links from an answer whose ``pointer`` is a planning period's id."""
    period = {"period_id": f"$response.body#{pointer}"}
    path = "/api/periods/{period_id}"
    return {
        "Period": _link(("GET", path), "The period and its stage", parameters=period),
        "Statements": _link(("GET", path + "/statements"), "Statements", parameters=period),
        "AskVariant": _link(("POST", path + "/variants"), "Ask for a variant", parameters=period),
        "Variants": _link(("GET", path + "/variants"), "Its variants", parameters=period),
        "Rounds": _link(("GET", path + "/rounds"), "Its rounds", parameters=period),
        "Adoption": _link(("POST", path + "/adoption"), "The adoption ballot", parameters=period),
        "Levy": _link(("GET", path + "/levy"), "Its adopted plan's levy", parameters=period),
    }


_LOGIN = {"username": "$request.body#/username", "password": "$request.body#/password"}
_BEARER = "; send the token from this answer as `Authorization: Bearer <token>`"

#: (method, path, status) of an answer -> its links by name.
LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    ("POST", "/api/accounts", "201"): {
        "LogIn": _link(
            ("POST", "/api/tokens"), "A bearer token for the new account", requestBody=_LOGIN
        ),
        "LogInBrowser": _link(
            ("POST", "/api/session"), "A session cookie for the new account", requestBody=_LOGIN
        ),
    },
    ("POST", "/api/tokens", "201"): {
        "Me": _link(("GET", "/api/me"), "Who I am" + _BEARER),
        "FoundCouncil": _link(("POST", "/api/councils"), "Found a council" + _BEARER),
        "Councils": _link(("GET", "/api/councils"), "All councils" + _BEARER),
        "Disputes": _link(("GET", "/api/disputes"), "My cases" + _BEARER),
        "ChangePassword": _link(
            ("POST", "/api/me/password"),
            "Change my password" + _BEARER,
            requestBody={"old_password": "$request.body#/password"},
        ),
        "RevokeTokens": _link(("DELETE", "/api/tokens"), "Log out everywhere" + _BEARER),
    },
    ("GET", "/api/me", "200"): _council("/councils/0"),
    ("GET", "/api/councils", "200"): _council("/0/id"),
    ("POST", "/api/councils", "201"): _council("/id"),
    ("POST", "/api/councils/{council_id}/join", "201"): {
        "Admit": _link(
            ("POST", "/api/councils/{council_id}/admissions"),
            "Put the application to the council's vote",
            parameters={"council_id": "$response.body#/council_id"},
            requestBody={"application_ids": ["$response.body#/id"]},
        ),
    },
    ("POST", "/api/federations/{federation_id}/councils", "201"): {
        "AdmitFirst": _link(
            ("POST", "/api/applications/{application_id}/admit"),
            "The federation's founder admits its first council",
            parameters={"application_id": "$response.body#/id"},
        ),
        "Admit": _link(
            ("POST", "/api/councils/{council_id}/admissions"),
            "Put the application to the federation's vote",
            parameters={"council_id": "$response.body#/council_id"},
            requestBody={"application_ids": ["$response.body#/id"]},
        ),
    },
    ("POST", "/api/councils/{council_id}/motions", "201"): {
        "Motion": _link(
            ("GET", "/api/motions/{motion_id}"),
            "The motion",
            parameters={"motion_id": "$response.body#/id"},
        ),
        "Amend": _link(
            ("POST", "/api/motions/{motion_id}/amendments"),
            "Amend it",
            parameters={"motion_id": "$response.body#/id"},
        ),
        "PutToVote": _link(
            ("POST", "/api/councils/{council_id}/ballots"),
            "Put the motion to the council's yes/no vote (default quorum and majority) until "
            "a closes_at of the client's choosing",
            parameters={"council_id": "$response.body#/council_id"},
            requestBody={
                "motion_id": "$response.body#/id",
                "title": "$response.body#/title",
                "rule": "yes_no",
                "options": None,
                "seats": 1,
                "quorum": "0",
                "majority": "1/2",
            },
        ),
    },
    ("POST", "/api/councils/{council_id}/ballots", "201"): _ballot("/id"),
    ("POST", "/api/councils/{council_id}/admissions", "201"): _ballot("/id"),
    ("POST", "/api/councils/{council_id}/rules", "201"): _ballot("/id"),
    ("POST", "/api/councils/{council_id}/elections", "201"): {
        **_ballot("/id"),
        "Nominate": _link(
            ("POST", "/api/ballots/{ballot_id}/nominations"),
            "Nominate a candidate",
            parameters={"ballot_id": "$response.body#/id"},
        ),
    },
    ("GET", "/api/councils/{council_id}/ballots", "200"): _ballot("/0/id"),
    ("POST", "/api/ballots/{ballot_id}/votes", "201"): _ballot("/ballot_id"),
    ("POST", "/api/councils/{council_id}/budgets", "201"): {
        "Budget": _link(
            ("GET", "/api/budgets/{budget_id}"),
            "The budget",
            parameters={"budget_id": "$response.body#/id"},
        ),
        "Propose": _link(
            ("POST", "/api/budgets/{budget_id}/proposals"),
            "Propose a project",
            parameters={"budget_id": "$response.body#/id"},
        ),
        **{f"{name}Ballot": link for name, link in _ballot("/ballot_id").items()},
    },
    ("POST", "/api/budgets/{budget_id}/proposals", "201"): {
        "Budget": _link(
            ("GET", "/api/budgets/{budget_id}"),
            "The budget",
            parameters={"budget_id": "$response.body#/budget_id"},
        ),
    },
    ("GET", "/api/delegates", "200"): {
        "Recall": _link(
            ("POST", "/api/delegates/{delegate_id}/recalls"),
            "Open a recall of the first delegate listed",
            parameters={"delegate_id": "$response.body#/0/id"},
        ),
    },
    ("POST", "/api/delegates/{delegate_id}/recalls", "201"): {
        "Recall": _link(
            ("GET", "/api/recalls/{recall_id}"),
            "The recall",
            parameters={"recall_id": "$response.body#/id"},
        ),
        "Support": _link(
            ("POST", "/api/recalls/{recall_id}/support"),
            "Support it",
            parameters={"recall_id": "$response.body#/id"},
        ),
    },
    ("POST", "/api/commissions", "201"): {
        "TakeSeat": _link(
            ("POST", "/api/commissions/{commission_id}/seats"),
            "Take a seat on it",
            parameters={"commission_id": "$response.body#/id"},
        ),
        "File": _link(
            ("POST", "/api/commissions/{commission_id}/disputes"),
            "File a dispute with it",
            parameters={"commission_id": "$response.body#/id"},
        ),
    },
    ("POST", "/api/commissions/{commission_id}/disputes", "201"): _dispute("/id"),
    ("GET", "/api/disputes", "200"): _dispute("/0/id"),
    ("POST", "/api/bundles", "201"): {
        name: _link(
            ("GET", "/api/bundles/{digest}" + tail),
            what,
            parameters={"digest": "$response.body#/digest"},
        )
        for name, tail, what in (("Bundle", "", "The bundle"), ("Archive", "/archive", "Its zip"))
    },
    ("POST", "/api/federations/{federation_id}/periods", "201"): {
        **_period("/id"),
        **{f"{name}Ballot": link for name, link in _ballot("/ballot_id").items()},
    },
    ("GET", "/api/federations/{federation_id}/periods", "200"): _period("/0/id"),
    ("POST", "/api/periods/{period_id}/variants", "202"): {
        "Variant": _link(
            ("GET", "/api/variants/{variant_id}"),
            "The variant and its job's progress",
            parameters={"variant_id": "$response.body#/id"},
        ),
    },
    ("POST", "/api/periods/{period_id}/rounds", "201"): {
        "Round": _link(
            ("GET", "/api/rounds/{round_id}"),
            "The round and its prices",
            parameters={"round_id": "$response.body#/id"},
        ),
        "Close": _link(
            ("POST", "/api/rounds/{round_id}/close"),
            "Close it once its time is up",
            parameters={"round_id": "$response.body#/id"},
        ),
    },
    ("POST", "/api/periods/{period_id}/adoption", "201"): _ballot("/id"),
    ("POST", "/api/ledger/draws", "201"): {
        "Undo": _link(
            ("POST", "/api/transfers/{tid}/reversal"),
            "Undo the draw (within a day), with a reason",
            parameters={"tid": "$response.body#/transfers/0/tid"},
        ),
        "MyAccount": _link(("GET", "/api/ledger/me"), "My account"),
    },
}


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`LINKS` to an OpenAPI ``document`` (in place), targets by operationId.

    A link from or to an operation the document lacks is a stale table: LookupError naming it,
    so the tests that read /openapi.json fail rather than the document silently losing links."""
    paths = document["paths"]

    def operation(method: str, path: str) -> dict[str, Any]:
        try:
            return paths[path][method.lower()]
        except KeyError:
            raise LookupError(f"web/links.py: no operation {method} {path} in the API") from None

    for (method, path, status), links in LINKS.items():
        responses = operation(method, path)["responses"]
        if status not in responses:
            raise LookupError(f"web/links.py: {method} {path} documents no {status} answer")
        declared = responses[status].setdefault("links", {})
        for name, link in links.items():
            target = operation(*link["target"])
            declared[name] = {
                "operationId": target["operationId"],
                **{key: value for key, value in link.items() if key != "target"},
            }
    return document


def install(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with :data:`LINKS` in it (built once, on first ask)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(plain())
        return app.openapi_schema

    app.openapi = openapi
