from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic import roles_render


def roles_doc_path() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "roles.md"


class Command(BaseCommand):
    help = (
        "Write the tables of docs/roles.md from the capability table "
        "(clinic/capabilities.py); the prose around them stays."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; fail when docs/roles.md is not up to date.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = roles_doc_path()
        current = path.read_text(encoding="utf-8")
        wanted = roles_render.render(current)
        if wanted == current:
            self.stdout.write("docs/roles.md is up to date.")
        elif options["check"]:
            raise CommandError(
                "docs/roles.md differs from the capability table: run `python manage.py roles_doc`."
            )
        else:
            path.write_text(wanted, encoding="utf-8")
            self.stdout.write(self.style.SUCCESS("docs/roles.md written."))
