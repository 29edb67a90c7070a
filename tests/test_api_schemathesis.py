"""Schemathesis over the OpenAPI document, in-process against the ASGI app: whatever a client
sends that the schema allows or not, the server answers without a 5xx. Runs as a member of a
small town (member, delegate, commissioner) so requests get past authentication; a bounded
number of examples per operation keeps it quick."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

schemathesis = pytest.importorskip("schemathesis")
from argon2 import PasswordHasher, profiles  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from councilplan.councils import service as s  # noqa: E402
from councilplan.web import auth  # noqa: E402
from councilplan.web.app import create_app  # noqa: E402

MAX_EXAMPLES = 15
# The coverage phase (boundary values for every field) runs in full; the random phases are
# bounded by MAX_EXAMPLES. Stateful link-following is off: the API declares no links.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"phases": {"stateful": {"enabled": False}}, "generation": {"max-examples": MAX_EXAMPLES}}
)


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
        council_store, commission_id=commission["id"], account_id=ada, side="planning"
    )
    s.take_commission_seat(
        council_store,
        commission_id=commission["id"],
        account_id=made["accounts"]["bea"],
        side="workplace",
    )
    s.file_dispute(
        council_store,
        commission_id=commission["id"],
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
