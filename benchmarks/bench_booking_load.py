"""Booking under load: gunicorn with the production settings on PostgreSQL, many API
clients at once, then one SQL query proving no chair and no patient holds overlapping
occupying sessions.

The clinic is clinic_year's (10 chairs, a year of sessions, 12 of 15 lanes of every
chair taken), in a time zone where it is now about noon, so today has sessions still
to come. Every client is a front desk person with an API token (made directly: no
login, so the login throttle, the only throttle the API has, never applies) and a
patient with a cleared course of their own; each loops, picking:

- board (30%): ``GET /api/v1/board/`` for today or one of the next days;
- availability (25%): ``GET /api/v1/availability/`` for a weekday of the next 4 weeks;
- book (20%): ``POST /api/v1/sessions/`` at a random quarter hour of such a weekday;
- move (15%): ``PATCH /api/v1/sessions/{id}/`` of a session it booked, to such a time;
- check-in (10%): ``POST /api/v1/sessions/{id}/check-in/`` of one of today's coming
  sessions (the clinic lets patients check in up to 12 hours early), or, once checked
  in, ``POST .../undo/`` (so the pool of today's sessions never runs dry).

A booking or move refused for a taken slot or a patient who already has a session
that day is a 409: expected, counted by code. The server (``python -m gunicorn
clinic.wsgi:application``, 2 x cores + 1 sync workers as docker/cadence.env.example
advises) runs with DEBUG off, a generated SECRET_KEY, ALLOWED_HOSTS, CADENCE_HTTPS on
behind one trusted proxy (the clients send X-Forwarded-Proto and X-Forwarded-For as a
TLS proxy would), and CACHE_URL on Redis. It shares the machine's cores with the
clients and PostgreSQL.

Environment: BENCH_DURATION_SECONDS (60), BENCH_CLIENTS (32), BENCH_WEB_WORKERS
(2 x cores + 1), BENCH_THINK_MS (0: each client sends its next request as soon as the
last is answered, so the server is saturated and latency is mostly queueing; N: a
pause of 0 to 2N ms, N on average, between a client's requests, as people at a desk
would; each client also starts after such a pause), BENCH_WARMUP_SECONDS (10: the
clients run this long before the timed window opens, so each server worker's first
requests, which connect to PostgreSQL and load the code, are counted but not timed),
BENCH_REDIS_URL (redis://127.0.0.1:6379/12, the server's cache).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.clinic_year import OCCUPYING_SQL, build_year, cleared_patient
from benchmarks.harness import ROOT, process_cpu_seconds, setup_django, throwaway_database

DURATION = float(os.environ.get("BENCH_DURATION_SECONDS", "60"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))
WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
THINK_MS = float(os.environ.get("BENCH_THINK_MS", "0"))
WARMUP = float(os.environ.get("BENCH_WARMUP_SECONDS", "10"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
LANES_PER_CHAIR = 12
MINUTES = 40
MIX = {"board": 30, "availability": 25, "book": 20, "move": 15, "check-in": 10}
P99_TARGET_MS = 300
UNDO_REASON = "Checked in the wrong patient"
NO_CHECK_INS = " - none (a weekend or holiday there): no check-ins this run"

# Sessions that overlap an earlier-starting occupying session of the same chair, and of
# the same patient: the running latest end of the sessions before each one, per chair
# (per patient), is past its start.
OVERLAPS_SQL = f"""
SELECT
  (SELECT COUNT(*) FROM (
     SELECT starts_at, MAX(ends_at) OVER (
       PARTITION BY chair_id ORDER BY starts_at, id
       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_end
     FROM scheduling_session WHERE status IN {OCCUPYING_SQL}) chairs
   WHERE before_end > starts_at),
  (SELECT COUNT(*) FROM (
     SELECT starts_at, MAX(ends_at) OVER (
       PARTITION BY patient_id ORDER BY starts_at, id
       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_end
     FROM scheduling_session WHERE status IN {OCCUPYING_SQL}) patients
   WHERE before_end > starts_at)
"""


@dataclass
class Client:
    """One API client's credentials, course and sessions (used by one thread only)."""

    token: str
    course_id: int
    today_sessions: dict[int, bool]  # session id -> checked in
    booked: list[int] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, op: str, status: int, code: str, ms: float) -> None:
        with self.lock:
            self.timings.setdefault(op, []).append(ms)
            self.statuses[(op, status, code)] += 1


class Api:
    def __init__(self, port: int, clinic_id: int, tz: Any, weekdays: list[dt.date]) -> None:
        self.port = port
        self.clinic_id = clinic_id
        self.tz = tz
        self.weekdays = weekdays

    def request(
        self, client: Client, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any, float]:
        headers = {
            "Authorization": f"Bearer {client.token}",
            # As the TLS proxy in front of Cadence would send them (CADENCE_HTTPS).
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "Host": "127.0.0.1",
        }
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        ms = (time.perf_counter() - started) * 1000
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data, ms

    def start_time(self, client: Client) -> str:
        day = client.rng.choice(self.weekdays[1:])  # not today: its morning is past
        minutes = 7 * 60 + 30 + 15 * client.rng.randrange(44)  # 07:30 .. 18:15
        local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return local.isoformat()

    def step(self, client: Client, results: Results) -> None:
        op = client.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if op == "move" and not client.booked:
            op = "book"
        if op == "check-in" and not client.today_sessions:
            op = "board"
        if op == "board":
            day = (
                self.weekdays[0]
                if client.rng.random() < 0.7
                else client.rng.choice(self.weekdays[:5])
            )
            path = f"/api/v1/board/?clinic={self.clinic_id}&date={day}"
            status, data, ms = self.request(client, "GET", path)
        elif op == "availability":
            day = client.rng.choice(self.weekdays)
            path = f"/api/v1/availability/?clinic={self.clinic_id}&date={day}&minutes={MINUTES}"
            status, data, ms = self.request(client, "GET", path)
        elif op == "book":
            body = {"course": client.course_id, "starts_at": self.start_time(client)}
            status, data, ms = self.request(client, "POST", "/api/v1/sessions/", body)
            if status == 201:
                client.booked.append(data["id"])
        elif op == "move":
            session_id = client.rng.choice(client.booked)
            body = {"starts_at": self.start_time(client)}
            status, data, ms = self.request(
                client, "PATCH", f"/api/v1/sessions/{session_id}/", body
            )
        else:
            session_id = client.rng.choice(list(client.today_sessions))
            if client.today_sessions[session_id]:
                op = "undo"
                path = f"/api/v1/sessions/{session_id}/undo/"
                status, data, ms = self.request(client, "POST", path, {"reason": UNDO_REASON})
            else:
                path = f"/api/v1/sessions/{session_id}/check-in/"
                status, data, ms = self.request(client, "POST", path)
            if status == 200:
                client.today_sessions[session_id] = op == "check-in"
        results.add(op, status, _error_code(status, data), ms)


def _error_code(status: int, data: Any) -> str:
    """An error answer's code; for field errors (no code string), the fields named."""
    if status < 400:
        return ""
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, str):
        return code
    return "fields " + ",".join(sorted(data)) if isinstance(data, dict) else "no JSON body"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_env() -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CADENCE_HTTPS": "true",
        "TRUSTED_PROXY_COUNT": "1",
        "CACHE_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
    }
    return env


def _start_server(port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(  # noqa: S603 - our own server command
        [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--worker-tmp-dir",
            "/dev/shm",  # noqa: S108 - as the production image runs it
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=_server_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}) while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz/", headers={"X-Forwarded-Proto": "https"})
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn not ready after 60 s")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _database_cpu_seconds() -> float:
    """CPU time of the PostgreSQL backends serving this run's database, other than this
    process's own (a backend closed during the run, DB_CONN_MAX_AGE, is not counted)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    connection.close()
    return sum(process_cpu_seconds(pid) for pid in pids)


def _percentile(values: list[float], share: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


def _report(results: Results, elapsed: float) -> None:
    total = sum(len(times) for times in results.timings.values())
    print(f"  {total:,} requests in {elapsed:.1f} s: {total / elapsed:.1f} requests/s")
    for op in [*MIX, "undo"]:
        times = results.timings.get(op)
        if not times:
            continue
        p99 = _percentile(times, 99)
        verdict = (
            ""
            if op == "undo"
            else f" (target < {P99_TARGET_MS}: {'met' if p99 < P99_TARGET_MS else 'MISSED'})"
        )
        print(
            f"  {op:>12}: {len(times):6,} requests, {len(times) / elapsed:6.1f}/s, "
            f"p50 {_percentile(times, 50):6.1f} ms, p95 {_percentile(times, 95):6.1f} ms, "
            f"p99 {p99:6.1f} ms{verdict}"
        )
    by_status = Counter[str]()
    for (op, status, code), count in sorted(results.statuses.items()):
        if status >= 400:
            by_status[f"{status}" if status >= 500 else f"{status} {code}"] += count
            print(f"    {op} -> {status} {code}: {count:,}")
    server_errors = sum(count for key, count in by_status.items() if key.startswith("5"))
    client_errors = ", ".join(
        f"{key}: {count:,}" for key, count in sorted(by_status.items()) if key.startswith("4")
    )
    print(f"  4xx by code: {client_errors or 'none'}")
    print(
        f"  5xx: {server_errors} (target 0); client-side errors: {dict(results.errors) or 'none'}"
    )


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from clinic.models import Role, StaffMembership
    from clinic.tokens import new_token
    from courses.models import Protocol
    from courses.services import course_create
    from scheduling.calendar import day_bounds
    from scheduling.models import Session, SessionStatus
    from tests.sms_fakes import midday_timezone

    with throwaway_database():
        year = build_year(
            protocol_code="10hz-standard", lanes_per_chair=LANES_PER_CHAIR, zone=midday_timezone()
        )
        clinic = year.clinic
        clinic.check_in_early_minutes = 720
        clinic.save(update_fields=["check_in_early_minutes"])
        print(
            f"booking under load: {CLIENTS} clients for {DURATION:.0f} s against gunicorn "
            f"({WORKERS} sync workers, production settings) on PostgreSQL; think time "
            f"{THINK_MS:.0f} ms on average"
        )
        year.describe()
        protocol = Protocol.objects.get(clinic=None, code="10hz-standard")
        today = clinic.today()
        coming_today = list(
            Session.objects.filter(
                chair__clinic=clinic,
                status=SessionStatus.SCHEDULED,
                starts_at__gt=timezone.now(),
                starts_at__lt=day_bounds(today, clinic.tz)[1],
            )
            .order_by("starts_at")
            .values_list("id", flat=True)
        )
        clients = []
        for n in range(CLIENTS):
            user = get_user_model().objects.create_user(f"bench-desk-{n:02d}")
            StaffMembership.objects.create(user=user, clinic=clinic, role=Role.FRONT_DESK)
            course = course_create(
                patient=cleared_patient(clinic, year.psychiatrist, f"LOAD-{n:02d}"),
                psychiatrist=year.psychiatrist,
                protocol=protocol,
                indication="mdd",
                start_date=today,
                preferred_time=dt.time(9, 0),
            )
            clients.append(
                Client(
                    token=new_token(user, "load benchmark")[1],
                    course_id=course.pk,
                    today_sessions=dict.fromkeys(coming_today[n::CLIENTS], False),
                    rng=random.Random(n),
                )
            )
        weekdays = [
            today + dt.timedelta(days=n)
            for n in range(28)
            if (today + dt.timedelta(days=n)).weekday() < 5
            and today + dt.timedelta(days=n) not in year.closures
        ]
        print(
            f"  today {today:%a %Y-%m-%d} in {clinic.timezone}: {len(coming_today)} sessions "
            f"still to come today to check in (and undo){'' if coming_today else NO_CHECK_INS}"
        )
        connection.close()  # the server's workers connect on their own
        port = _free_port()
        log_path = Path(os.environ["CADENCE_VAR_DIR"]) / "bench_booking_load.log"
        log = log_path.open("wb")
        server = _start_server(port, log)
        api = Api(port, clinic.pk, clinic.tz, weekdays)
        results = Results()
        warming = Results()  # the warm-up's answers: counted, not timed
        window: dict[str, float] = {}

        def start_window() -> None:  # once, when every client has warmed up
            window["server_cpu"] = process_cpu_seconds(server.pid)
            window["started"] = time.monotonic()
            window["stop_at"] = window["started"] + DURATION

        barrier = threading.Barrier(len(clients), action=start_window)
        warm_until = time.monotonic() + WARMUP

        def run(client: Client) -> None:
            if THINK_MS:  # clients arrive spread out, as people do
                time.sleep(client.rng.uniform(0, 2 * THINK_MS) / 1000)
            for into, until in ((warming, lambda: warm_until), (results, None)):
                if until is None:
                    barrier.wait()
                    until = lambda: window["stop_at"]  # noqa: E731
                while time.monotonic() < until():
                    try:
                        api.step(client, into)
                    except OSError as exc:
                        with into.lock:
                            into.errors[type(exc).__name__] += 1
                    if THINK_MS:
                        time.sleep(client.rng.uniform(0, 2 * THINK_MS) / 1000)

        print(
            f"  load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True
        )
        threads = [threading.Thread(target=run, args=(client,)) for client in clients]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - window["started"]
            server_cpu = process_cpu_seconds(server.pid) - window["server_cpu"]
            database_cpu = _database_cpu_seconds()
            print(f"  load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            _stop_server(server)
            log.close()
        warmed = sum(len(times) for times in warming.timings.values())
        print(
            f"  warm-up: {warmed:,} requests in the first {WARMUP:.0f} s, not timed "
            f"(each server worker's first requests connect and load the code); "
            f"5xx {sum(n for (_, code, _), n in warming.statuses.items() if code >= 500)}"
        )
        _report(results, elapsed)
        answered = sum(len(times) for times in results.timings.values())
        print(
            f"  CPU a request (barely moved by other load): gunicorn workers "
            f"{server_cpu * 1000 / answered:.1f} ms, PostgreSQL's backends of this run "
            f"{database_cpu * 1000 / (answered + warmed):.1f} ms "
            "(those still connected at the end, warm-up included)"
        )
        logged = log_path.read_text(errors="replace").splitlines()
        print(
            f"  server log {log_path}: {sum(' ERROR ' in line for line in logged)} errors, "
            f"{sum(' WARNING ' in line for line in logged)} warnings (each 4xx is one)"
        )
        with connection.cursor() as cursor:
            cursor.execute(OVERLAPS_SQL)
            chair_overlaps, patient_overlaps = cursor.fetchone()
        booked = sum(len(client.booked) for client in clients)
        print(
            f"  overlapping occupying sessions: {chair_overlaps} on a chair, "
            f"{patient_overlaps} of a patient (target 0); {booked:,} sessions booked by the clients"
        )


if __name__ == "__main__":
    main()
