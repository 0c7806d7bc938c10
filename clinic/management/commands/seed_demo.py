from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from clinic import demo


class Command(BaseCommand):
    help = "Load (or refresh) the Brooklyn demo clinic. Safe to run more than once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=None,
            help="Use this password for every demo login (default: CADENCE_DEMO_PASSWORD "
            "or generated once and kept in var/demo-logins.txt).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or os.environ.get("CADENCE_DEMO_PASSWORD") or None
        logins = demo.seed_clinic(password=password)
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Logins:"))
        for login in logins:
            self.stdout.write(f"  {login.role:<13} {login.username:<13} {login.password}")
        with_code = [login.username for login in logins if demo.demo_authenticator(login.username)]
        if with_code:
            self.stdout.write(
                f"Second factor for {', '.join(with_code)}: after the password, enter the code "
                "printed by\n  python manage.py demo_otp USERNAME\n"
                "(add --uri for a link that puts it in your authenticator app)."
            )
