"""Seed a fault test's own PostgreSQL cluster (schema already loaded): run as `python -m tests.faults.seed`.

Creates a manager, an analyst with an assigned document (tests/faults/http.TEXT),
an API token and a logged-in session for the analyst, and prints them as JSON.
"""

from __future__ import annotations

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
django.setup()

from django.test import Client  # noqa: E402

from annotations.models import Role  # noqa: E402
from annotations.services import projects, tokens  # noqa: E402
from tests.factories import DocumentFactory, UserFactory  # noqa: E402
from tests.faults.http import TEXT  # noqa: E402


def main() -> None:
    manager = UserFactory(username="manager")
    project = projects.project_create(name="Faults", actor=manager)
    analyst = UserFactory(username="analyst")
    projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    document = DocumentFactory(project=project, text=TEXT)
    annotation_set = projects.annotation_set_assign(document=document, annotator=analyst, actor=manager)
    client = Client()
    client.force_login(analyst)
    print(
        json.dumps(
            {
                "set_id": annotation_set.pk,
                "session_id": client.cookies["sessionid"].value,
                "token": tokens.api_token_create(user=analyst, name="faults").secret,
            }
        )
    )


if __name__ == "__main__":
    main()
