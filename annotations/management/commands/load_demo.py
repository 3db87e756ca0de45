from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.demo import DEMO_USERS, load_demo


class Command(BaseCommand):
    help = "Load the demo project, users and articles once (a second run changes nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load even with DEBUG off. The demo users have published passwords: never on a public site.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "The demo has published passwords; it loads only with DEBUG=True (or --allow-production)."
            )
        project, created = load_demo()
        self.stdout.write(self.style.SUCCESS("Demo loaded." if created else "Demo already present; nothing changed."))
        self.stdout.write(f"Project: {project.name}")
        self.stdout.write("Logins (username / password, role):")
        for user in DEMO_USERS:
            self.stdout.write(f"  {user.username:<6} / {user.password:<16} {user.role}")
