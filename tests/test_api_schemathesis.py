"""Schemathesis over the OpenAPI document, in-process against the ASGI app: whatever a client
sends that the schema allows or not, the server answers without a 5xx. Runs as a member of a
small town (member, delegate, commissioner) so requests get past authentication; a bounded
number of examples per operation keeps it quick.

Two tests: each operation alone (stateless), and sequences of operations that follow the links
the document declares (stateful, web/links.py): register, log in, found a council, table a
motion, put it to a vote, vote, read the ballot back, and so on."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

schemathesis = pytest.importorskip("schemathesis")
from argon2 import PasswordHasher, profiles  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.errors import FlakyStrategyDefinition  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from councilplan.councils import service as s  # noqa: E402
from councilplan.web import auth  # noqa: E402
from councilplan.web.app import create_app  # noqa: E402

MAX_EXAMPLES = 15
# The coverage phase (boundary values for every field) runs in full; the random phases are
# bounded by MAX_EXAMPLES. Link-following is the stateful test's, below.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"phases": {"stateful": {"enabled": False}}, "generation": {"max-examples": MAX_EXAMPLES}}
)
# The stateful test follows only the links the document declares (web/links.py). Schemathesis'
# own inference is off: our answers are free-form objects, so it guesses field names (a motion's
# id as `motion_id`) and most of its links would extract nothing.
STATEFUL_CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"phases": {"stateful": {"inference": {"algorithms": []}}}}
)
SCENARIOS = 80  # sequences of calls, each of at most STEPS calls (about 30 s on SQLite)
STEPS = 20


@pytest.fixture
def town_app(council_store, monkeypatch):
    if council_store.engine.dialect.name == "sqlite" and os.environ.get(
        "COUNCILPLAN_TEST_DATABASE_URL"
    ):
        pytest.skip("schemathesis runs once, against PostgreSQL, when PostgreSQL is available")
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    made = s.create_demo_town(
        council_store,
        hash_password=auth.hash_password,
        password="correct horse",
        now=datetime.now(UTC) - timedelta(days=1),
    )
    app = create_app(council_store, close_every_s=None)
    fed = made["councils"]["federation"]
    ada = made["accounts"]["ada"]
    commission = s.create_commission(
        council_store,
        name="Rates",
        federation_id=fed,
        workplace_council_id=made["councils"]["bakery"],
        actor_id=ada,
    )
    s.take_commission_seat(
        council_store, commission_id=commission.id, account_id=ada, side="planning"
    )
    s.take_commission_seat(
        council_store,
        commission_id=commission.id,
        account_id=made["accounts"]["bea"],
        side="workplace",
    )
    s.file_dispute(
        council_store,
        commission_id=commission.id,
        filer_id=made["accounts"]["cai"],
        subject="work_norm",
        target="bread",
        current_hours=1,
        claimed_hours=2,
    )
    _, token = auth.login(council_store, "ada", "correct horse", kind="bearer")
    app.state.test_headers = {"Authorization": f"Bearer {token}"}
    return app


schema = schemathesis.pytest.from_fixture("town_schema")


@pytest.fixture
def town_schema(town_app):
    return schemathesis.openapi.from_asgi("/openapi.json", town_app, config=CONFIG)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case, town_app):
    if (case.method, case.operation.path) in (
        ("DELETE", "/api/session"),
        ("DELETE", "/api/tokens"),
    ):
        return  # logging out would revoke the token the other examples run with
    # Schemathesis fills the bearer scheme's header itself (with junk); ours must win, or
    # every request would stop at authentication.
    case.headers = {**(case.headers or {}), **town_app.state.test_headers}
    response = case.call_and_validate(checks=[not_a_server_error])
    if case.operation.path not in ("/api/session", "/api/tokens"):  # a wrong password is 401
        assert response.status_code != 401, "the test account's token was not used"


def test_links_in_the_published_document(town_app):
    """A client reading /openapi.json learns that a new council's id is where its motions go."""
    from fastapi.testclient import TestClient

    document = TestClient(town_app).get("/openapi.json").json()
    founded = document["paths"]["/api/councils"]["post"]["responses"]["201"]["links"]
    tabled = document["paths"]["/api/councils/{council_id}/motions"]["post"]["operationId"]
    assert founded["TableMotion"] == {
        "operationId": tabled,
        "description": "Table a motion",
        "parameters": {"council_id": "$response.body#/id"},
    }


def _ballot_times() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "nominations_close_at": (now + timedelta(days=10)).isoformat(),
        "proposals_close_at": (now + timedelta(days=10)).isoformat(),
        "closes_at": (now + timedelta(days=20)).isoformat(),
    }


@pytest.mark.slow
def test_no_server_error_along_links(town_app, council_store):
    """Scenarios of up to STEPS calls along the declared links, each starting logged in as a
    member of the town (ada); a scenario that registers an account and logs in goes on as that
    account. Derandomized, so a run is repeatable.

    The database lives across scenarios, so the same choices can meet other answers (a bundle
    empty in one run and not in the next): Hypothesis then stops with FlakyStrategyDefinition; as
    Schemathesis' own stateful phase does, the run goes on with the scenarios left. For the
    same reason failures are collected with the scenario's steps and reported at the end, not
    raised: Hypothesis could not replay a failing scenario as it was."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", town_app, config=STATEFUL_CONFIG)
    answered: dict[tuple[str, str], set[int]] = {}
    followed: list[str] = []  # steps that followed a link and succeeded
    failures: list[str] = []
    scenarios: list[int] = []

    class Town(schema.as_state_machine()):
        def setup(self):
            # A token of the scenario's own: logging out in one scenario ends only that one. A
            # fresh login throttle too, as for a new client: earlier scenarios' random wrong
            # passwords would otherwise stop this one's logins with 429.
            _, token = auth.login(council_store, "ada", "correct horse", kind="bearer")
            self.bearer = {"Authorization": f"Bearer {token}"}
            self.steps: list[str] = []
            scenarios.append(1)
            town_app.state.login_throttle = auth.LoginThrottle()

        def step(self, input):
            output = super().step(input)
            if input.transition is not None and output.response.status_code < 300:
                followed.append(input.transition.id)
            return output

        def before_call(self, case):
            # Ours wins over the junk Schemathesis puts in the bearer scheme's header.
            case.headers = {**(case.headers or {}), **self.bearer}
            if isinstance(case.body, dict) and "closes_at" in case.body:
                # Times a ballot can run to: a random instant is nearly always refused (past,
                # or shorter than the council's minimum ballot time), and then no scenario
                # gets as far as voting. The stateless test fuzzes these fields.
                times = _ballot_times()
                case.body = {**case.body, **{k: v for k, v in times.items() if k in case.body}}

        def after_call(self, response, case):
            super().after_call(response, case)
            operation = (case.method, case.operation.path)
            answered.setdefault(operation, set()).add(response.status_code)
            self.steps.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
            if operation == ("POST", "/api/tokens") and response.status_code == 201:
                self.bearer = {"Authorization": f"Bearer {response.json()['token']}"}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(
                    response, checks=[not_a_server_error], transport_kwargs=kwargs or None
                )
            except (AssertionError, BaseExceptionGroup) as failure:
                failures.append(
                    "\n  ".join(
                        [str(failure), *self.steps, case.as_curl_command(), response.text[:2000]]
                    )
                )

    for _ in range(10):  # runs, each ended by FlakyStrategyDefinition or its last scenario
        left = SCENARIOS - len(scenarios)
        if left <= 0:
            break
        try:
            Town.run(
                settings=settings(
                    Town.TestCase.settings,
                    max_examples=left,
                    stateful_step_count=STEPS,
                    derandomize=True,
                    deadline=None,
                    phases=[Phase.generate],
                )
            )
        except FlakyStrategyDefinition:
            continue
        break
    assert not failures, "\n\n".join(failures)
    # The links lead somewhere: a council was founded, and a motion tabled in a council whose
    # id a link carried.
    assert 201 in answered.get(("POST", "/api/councils"), set()), answered
    assert any("-> POST /api/councils/{council_id}/motions" in link for link in followed), followed
