"""The OpenAPI schema says exactly what the API does: schemathesis generates requests
for every operation from ``/api/schema/`` and sends them to the live test server with
a superuser's token (issue 18, part 1).

Three phases run in the suite: the schema's examples, fuzzing with a bounded number of
examples per operation, and the stateful phase, which follows the schema's OpenAPI
links (clinic.schema_links) from the objects it creates to the operations on them.
``CADENCE_SCHEMATHESIS_FULL=1`` adds the coverage phase (every boundary and invalid
value of each parameter and body field: several thousand requests, ten minutes on a
2-core machine, too long for every run) and more examples. Three checks judge every
answer: no 5xx, the body matches the documented schema, the status is documented.
Any failure of a check, or an error of the engine, fails the test with schemathesis'
own report of it (the failing case as a curl command).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.db import connections
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as engine_events

from clinic import tokens
from tests.factories import ChairFactory, ClinicFactory, PatientFactory, UserFactory

CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance")
FULL = os.environ.get("CADENCE_SCHEMATHESIS_FULL") == "1"
MAX_EXAMPLES = 25 if FULL else 5
STATEFUL_EXAMPLES = 100 if FULL else 40
SEED = 18  # a fixed seed: a red run is reproduced by running the test again
# Tokens to hand out: an operation (DELETE /api/v1/auth/token/, or deleting a listed
# token) may revoke the one in use; after a 401 the next request gets a fresh one.
TOKEN_POOL = 40


class Findings:
    """What the engine reports: failed checks, errors, and the links it followed."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.errors: list[str] = []
        self.links: set[str] = set()
        self.cases = 0
        self.operations: set[str] = set()
        self.statuses: Counter[int] = Counter()

    def record(self, event: Any) -> None:
        if isinstance(event, engine_events.NonFatalError | engine_events.FatalError):
            self.errors.append(f"{getattr(event, 'label', '')}: {event!r}")
            return
        recorder = getattr(event, "recorder", None)
        if recorder is None:
            return
        self.cases += len(recorder.cases)
        for node in recorder.cases.values():
            self.operations.add(node.value.operation.label)
            if node.transition is not None and node.is_transition_applied:
                self.links.add(node.transition.id)
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[interaction.response.status_code] += 1
        for checks in recorder.checks.values():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.append(
                        f"{recorder.label} [{check.name}] {failure.title}: {failure.message}\n"
                        f"    {check.failure_info.code_sample}"
                    )


@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_its_openapi_contract(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's threads close their connections after each request, so the test
    # database can be dropped at the end.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    superuser = UserFactory(is_superuser=True, is_staff=True)
    # Something for the lists to answer with, so their links reach real objects.
    clinic = ClinicFactory()
    ChairFactory(clinic=clinic)
    PatientFactory(clinic=clinic)
    pool = [tokens.new_token(superuser, f"schemathesis {n}")[1] for n in range(TOKEN_POOL)]
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {
                "coverage": {"enabled": FULL},
                # Enough scenarios that some create succeeds and its links are followed.
                "stateful": {"generation": {"max-examples": STATEFUL_EXAMPLES}},
            },
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=config
    )

    @schema.auth()
    class PooledToken:
        """A token of the pool, the next one after an answer of 401 (schemathesis
        forgets the cached one then)."""

        def get(self, case: Any, context: Any) -> str:
            return pool.pop()

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    findings = Findings()
    for event in from_schema(schema).execute():
        findings.record(event)
    operations = len(list(schema.get_all_operations()))
    print(  # the figures issue 18 asks for, in the output of `pytest -s`
        f"{operations} operations, {findings.cases} cases, {len(findings.links)} links "
        f"followed, statuses {dict(sorted(findings.statuses.items()))}"
    )
    assert not findings.errors, "\n".join(findings.errors)
    assert not findings.failures, "\n".join(findings.failures)
    assert len(findings.operations) == operations
    # How many links the stateful phase follows is printed, not asserted: it depends on
    # how many generated creates the API accepts (one in ~900 cases today, the request
    # schemas being looser than the validation), and the same seed followed 4 links on
    # one run and none on another (the server's state differs under xdist). Tightening
    # the request schemas, so that creates succeed, is open on issue 18.
