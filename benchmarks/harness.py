"""Shared set-up for benchmarks: Django on a throwaway PostgreSQL database, timing,
query counts and memory. Benchmarks print figures; they assert nothing."""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cadence")
    os.environ.setdefault("CADENCE_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()


@contextlib.contextmanager
def throwaway_database() -> Iterator[None]:
    """Create a fresh database, migrate it, and drop it afterwards. Its name is
    test_<name of DATABASE_URL's database>, or BENCH_DATABASE_NAME when set (so people
    sharing one PostgreSQL server can run benchmarks at the same time: an existing
    database of that name is dropped first)."""
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    if os.environ.get("BENCH_DATABASE_NAME"):
        connection.settings_dict["TEST"]["NAME"] = os.environ["BENCH_DATABASE_NAME"]
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    """Collect the SQL of every statement run, and nothing else. Django's query log
    (CaptureQueriesContext) also formats every parameter into SQL text, which for a
    statement with 40,000-element array parameters costs more than running it."""
    from django.db import connection

    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


@dataclass
class Figures:
    name: str
    median_ms: float
    queries: int
    peak_kib: float

    def show(self, **extra: Any) -> None:
        parts = [
            f"{self.name}: median {self.median_ms:.2f} ms",
            f"queries {self.queries}",
            f"peak Python memory {self.peak_kib:,.0f} KiB",
        ]
        parts += [f"{key} {value}" for key, value in extra.items()]
        print("  " + ", ".join(parts), flush=True)


def measure(name: str, action: Callable[[], Any], *, repeat: int = 20) -> Figures:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    action()  # warm-up: imports, connection, caches
    with CaptureQueriesContext(connection) as captured:
        action()
    # Read the count now: later requests reset the connection's query log.
    queries = len(captured)
    tracemalloc.start()
    action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return Figures(name, statistics.median(timings), queries, peak / 1024)


def max_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children still running (Linux /proc;
    0 elsewhere): unlike the wall clock, barely moved by other load on the machine."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            total += sum(process_cpu_seconds(int(child)) for child in children.read().split())
    except OSError:
        pass
    return total
