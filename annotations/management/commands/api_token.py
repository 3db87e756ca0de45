from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotations.exceptions import InvalidInput
from annotations.models import ApiToken
from annotations.services import tokens


class Command(BaseCommand):
    help = "Create, list or revoke personal API tokens. A new token's secret is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token for a user and print its secret once.")
        create.add_argument("username")
        create.add_argument("name", help="What the token is for, e.g. 'nightly export'.")
        create.add_argument("--expires-in-days", type=int, default=None)
        listing = sub.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke a token by its uuid or its prefix.")
        revoke.add_argument("token", help="The token's uuid or the prefix shown by 'list'.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options["username"], options["name"], options["expires_in_days"])
        elif action == "list":
            self._list(options.get("username"))
        else:
            self._revoke(options["token"])

    def _user(self, username: str) -> Any:
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None

    def _create(self, username: str, name: str, days: int | None) -> None:
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--expires-in-days must be between 1 and 3650.")
        expires_at = timezone.now() + datetime.timedelta(days=days) if days else None
        try:
            created = tokens.api_token_create(user=self._user(username), name=name, expires_at=expires_at)
        except InvalidInput as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Token {created.token.uuid} for {username} ({name}). Shown once; store it now:")
        self.stdout.write(created.secret)

    def _list(self, username: str | None) -> None:
        queryset = ApiToken.objects.select_related("user")
        if username:
            queryset = queryset.filter(user=self._user(username))
        for token in queryset:
            status = "revoked" if token.revoked_at else ("active" if token.is_usable else "expired")
            last = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
            self.stdout.write(
                f"{token.uuid}  {token.prefix}…  {token.user.username:<16} {status:<8} last used {last}  {token.name}"
            )

    def _revoke(self, reference: str) -> None:
        queryset = ApiToken.objects.all()
        try:
            matches = list(queryset.filter(uuid=uuid.UUID(reference)))
        except ValueError:  # not a uuid: try the prefix
            matches = []
        if not matches:
            matches = list(queryset.filter(prefix=reference))
        if len(matches) != 1:
            raise CommandError(f"{len(matches)} tokens match {reference!r}; give the uuid from 'list'.")
        tokens.api_token_revoke(token=matches[0], actor=None)
        self.stdout.write(f"Revoked {matches[0].uuid} ({matches[0].name}).")
