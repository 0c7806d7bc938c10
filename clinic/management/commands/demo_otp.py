from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP

from clinic import demo


class Command(BaseCommand):
    help = (
        "Print the second-factor code a demo login's authenticator shows now (seed_demo "
        "gives one to the superuser, the psychiatrist and the clinic admin). Codes of "
        "authenticators people set up themselves are never shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--uri",
            action="store_true",
            help="Also print the otpauth:// link that adds it to an authenticator app.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        device = demo.demo_authenticator(options["username"])
        if device is None:
            raise CommandError(f"{options['username']!r} has no demo authenticator.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        left = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(f"(valid for {left} more seconds; each code works once)")
        if options["uri"]:
            self.stdout.write(device.config_url)
