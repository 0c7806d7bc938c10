"""Smoke of the embedded default, started the way ``./scripts/run`` starts it: in a fresh
var dir and with none of Cadence's settings in the environment, ``manage.py`` migrates,
collects static files and loads the demo clinic, then ``runall`` runs gunicorn, a Celery
worker and beat on SQLite and the filesystem broker.

Against those real processes a course is booked through the HTTP API, and the
missed-session sweep, reminder planning and dispatch are sent to the worker by task name:
the session the patient missed this morning is marked missed, a make-up is booked, the
next session's reminder is planned, and the follow-up text leaves through the console
transport. Only public surfaces are used (commands, the API, task names), so the test
does not depend on where the code lives inside the apps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from tests.sms_fakes import midday_timezone

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "smoke-demo-password-1"
STEP_TIMEOUT = 120  # seconds for one manage.py step (a few seconds each when idle)
WAIT = 60  # seconds for the running processes to do something asked of them
# Sent to the worker in this order, each waited for: as beat would send them.
TASKS = (
    "scheduling.tasks.sweep_missed_sessions",
    "notifications.tasks.plan_reminders",
    "notifications.tasks.dispatch_due",
)
SEND_TASKS = f"""
import json
from celery import current_app
results = {{name: current_app.send_task(name).get(timeout={WAIT}) for name in {TASKS!r}}}
print(json.dumps(results))
"""

T = TypeVar("T")


def _settings_names() -> set[str]:
    """Every variable .env.example documents."""
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, equals, _ = line.partition("=")
        if equals and not line.lstrip().startswith("#"):
            names.add(name.strip())
    return names


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _settings_names()}
    env.update(
        CADENCE_VAR_DIR=str(tmp_path / "var"),
        CADENCE_DEMO_PASSWORD=PASSWORD,
        DJANGO_SETTINGS_MODULE="clinic.settings",
        # This checkout's code, also where the virtualenv's editable install points
        # at another one.
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"manage.py {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _runall(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py runall`` in a session of its own; stopped with SIGTERM as Ctrl-C
    would, and whatever of its process group is still there after 30 s is killed."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own manage.py
            [
                sys.executable,
                "manage.py",
                "runall",
                "--bind",
                f"127.0.0.1:{port}",
                "--web-workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its web, worker and beat, if left
            process.wait()


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        answer_status, answer = self(method, path, body)
        assert answer_status == status, f"{method} {path}: {answer_status} {answer}"
        return answer

    def rows(self, path: str) -> list[dict[str, Any]]:
        joiner = "&" if "?" in path else "?"
        return list(self.ok("GET", f"{path}{joiner}page_size=500")["results"])

    def page(self, path: str) -> int:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:  # noqa: S310
            return int(response.status)

    def healthy(self) -> bool:
        try:
            return self("GET", "/healthz/")[0] == 200
        except OSError:  # not listening yet
            return False


def _wait_for(what: str, check: Callable[[], T], runall: subprocess.Popen[bytes], log: Path) -> T:
    deadline = time.monotonic() + WAIT
    while True:
        if runall.poll() is not None:
            pytest.fail(f"runall exited ({runall.returncode}) before {what}:\n{_tail(log)}")
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT} s:\n{_tail(log)}")
        time.sleep(0.5)


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _open_every_day_at_noon(api: Api) -> tuple[int, dt.date]:
    """The demo clinic, moved to a time zone where it is about noon now and open every
    day: a session booked at 08:00 today is then overdue, and its follow-up falls in the
    send window, whatever the hour and weekday the smoke runs on."""
    (clinic,) = [row for row in api.rows("/api/v1/clinics/") if row["slug"] == "brooklyn"]
    zone = midday_timezone()
    every_day = [{"weekday": day, "opens": "07:00", "closes": "20:00"} for day in range(7)]
    api.ok(
        "PATCH",
        f"/api/v1/clinics/{clinic['id']}/",
        {"timezone": zone, "opening_hours": every_day},
    )
    today = dt.datetime.now(ZoneInfo(zone)).date()
    for closure in api.rows(f"/api/v1/closures/?clinic={clinic['id']}&date={today}"):
        api.ok("DELETE", f"/api/v1/closures/{closure['id']}/", status=204)
    return clinic["id"], today


def _book_course_from_this_morning(api: Api, clinic: int, today: dt.date) -> dict[str, Any]:
    """Front desk's path through the API: patient (SMS consent), cleared screening,
    course, schedule. The protocol is the catalog's standard one with a daily cadence, so
    that its first session is today on any weekday."""
    (standard,) = api.rows("/api/v1/protocols/?code=10hz-standard")
    daily = {
        **{k: v for k, v in standard.items() if k not in ("id", "sessions_total")},
        "clinic": clinic,
        "code": "smoke-daily",
        "phases": [{"sessions": 10, "per_week": 7}],
    }
    api.ok("POST", "/api/v1/protocols/", daily, status=201)
    (psychiatrist,) = [
        row for row in api.rows("/api/v1/staff/") if row["username"] == "psychiatrist"
    ]
    patient = api.ok(
        "POST",
        "/api/v1/patients/",
        {
            "clinic": clinic,
            "mrn": "SMOKE-1",
            "first_name": "Sam",
            "last_name": "Smoke",
            "date_of_birth": "1980-01-02",
            "phone": "+17185550177",
            "sms_consent": True,
        },
        status=201,
    )
    trial = {"dose": "150 mg", "weeks": 8, "outcome": "no_response"}
    screening = api.ok(
        "POST",
        "/api/v1/screenings/",
        {
            "patient": patient["id"],
            "failed_trials": [{"drug": "sertraline", **trial}, {"drug": "bupropion", **trial}],
        },
        status=201,
    )
    api.ok("POST", f"/api/v1/screenings/{screening['id']}/clear/", {"reason": "Meets criteria."})
    course = api.ok(
        "POST",
        "/api/v1/courses/",
        {
            "patient": patient["id"],
            "psychiatrist": psychiatrist["id"],
            "protocol": "smoke-daily",
            "indication": "mdd",
            "start_date": today.isoformat(),
            "preferred_time": "08:00",
        },
        status=201,
    )
    booked = api.ok(
        "POST", f"/api/v1/courses/{course['id']}/schedule/", {"time_flex_minutes": 60}, status=201
    )
    return {"patient": patient["id"], "course": course["id"], "sessions": booked["sessions"]}


def test_scripts_run_path_books_sweeps_and_sends_on_sqlite(
    tmp_path: Path, embedded_env: dict[str, str]
) -> None:
    _manage(embedded_env, "migrate", "--no-input", "-v0")
    _manage(embedded_env, "collectstatic", "--no-input", "-v0")
    assert "Demo data loaded" in _manage(embedded_env, "seed_demo")
    assert (tmp_path / "var" / "cadence.sqlite3").is_file()

    port, log = _free_port(), tmp_path / "runall.log"
    api = Api(port)
    with _runall(embedded_env, port, log) as runall:
        _wait_for("answer from /healthz/", api.healthy, runall, log)
        assert api.page("/accounts/login/") == 200  # a page with the collected static files
        # The demo superuser logs in with a second factor: its code comes from demo_otp.
        otp = _manage(embedded_env, "demo_otp", "admin").strip()
        api.token = api.ok(
            "POST",
            "/api/v1/auth/token/",
            {"username": "admin", "password": PASSWORD, "otp": otp},
        )["token"]
        clinic, today = _open_every_day_at_noon(api)
        booked = _book_course_from_this_morning(api, clinic, today)
        first = min(booked["sessions"], key=lambda session: session["starts_at"])
        assert first["kind"] == "mapping"
        assert dt.datetime.fromisoformat(first["ends_at"]) < dt.datetime.now(dt.UTC)

        # Beat may have sent one of them meanwhile (at a round minute): the effects are
        # checked, not the counts each run returns.
        results = json.loads(_manage(embedded_env, "shell", "-c", SEND_TASKS).splitlines()[-1])
        assert all(isinstance(results[name], int) for name in TASKS), results

        sessions = api.rows(f"/api/v1/sessions/?course={booked['course']}")
        assert {s["id"]: s["status"] for s in sessions}[first["id"]] == "missed"

        def makeup() -> list[dict[str, Any]]:  # booked by the task the sweep queued
            rows = api.rows(f"/api/v1/sessions/?course={booked['course']}")
            return [row for row in rows if row["kind"] == "makeup"]

        _wait_for("make-up session", makeup, runall, log)

        def followup_sent() -> list[dict[str, Any]]:
            rows = api.rows(f"/api/v1/notifications/?patient={booked['patient']}")
            return [
                row
                for row in rows
                if (row["kind"], row["session"], row["channel"], row["status"])
                == ("missed_followup", first["id"], "sms", "sent")
            ]

        (sent,) = _wait_for("missed-session follow-up sent", followup_sent, runall, log)
        assert sent["sent_at"]
        outbox = api.rows(f"/api/v1/notifications/?patient={booked['patient']}")
        planned = [row for row in outbox if row["kind"] in ("first_session", "day_before")]
        assert any(row["status"] == "pending" for row in planned), outbox
        assert runall.poll() is None, _tail(log)
    assert runall.returncode == 0, _tail(log)
    assert "missed_followup:sms sent via console transport" in log.read_text()
