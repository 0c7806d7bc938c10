"""Run the web server, a Celery worker and Celery beat as one foreground group.

Ctrl-C (or SIGTERM) stops all three; if one of them dies, the others are stopped too,
so a half-running Cadence never goes unnoticed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run web (gunicorn), Celery worker and Celery beat together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        beat_schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "clinic.wsgi:application",
                "--bind",
                options["bind"],
                "--workers",
                str(options["web_workers"]),
                # No access log: query strings (patient search) may carry patient data.
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--queues",
                "default,reminders",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "clinic",
                "beat",
                "--schedule",
                beat_schedule,
                "--loglevel",
                "INFO",
            ],
        }
        processes = {name: subprocess.Popen(argv) for name, argv in commands.items()}  # noqa: S603
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                        exit_code = process.returncode or 1
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
        if exit_code:
            sys.exit(exit_code)
