"""The account page for API tokens and the api_token command."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from annotations.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_token_page_shows_a_new_secret_once_and_revokes_a_token(world, client_for):
    client = client_for(world.analyst)
    response = client.post("/account/tokens/", {"name": "<b>my script</b>", "expires_in_days": "30"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=world.analyst)
    html = response.content.decode()
    assert "&lt;b&gt;my script&lt;/b&gt;" in html and "<b>my script</b>" not in html
    assert token.prefix in html and token.expires_at is not None
    assert token.prefix + "…" in client.get("/account/tokens/").content.decode()
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_another_users_token_cannot_be_revoked_from_the_page(world, client_for):
    call_command("api_token", "create", "manager", "ci", stdout=io.StringIO())
    token = ApiToken.objects.get(user=world.manager)
    assert client_for(world.analyst).post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_token_without_a_name_is_refused_with_a_reason(world, client_for):
    response = client_for(world.analyst).post("/account/tokens/", {"name": "  "})
    assert response.status_code == 400
    assert "needs a name" in response.content.decode()


def test_the_command_creates_lists_and_revokes(world):
    out = io.StringIO()
    call_command("api_token", "create", "reviewer", "nightly", "--expires-in-days", "7", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(user=world.reviewer)
    assert secret.startswith("cb_") and token.token_sha256 != secret
    listing = io.StringIO()
    call_command("api_token", "list", "reviewer", stdout=listing)
    assert "nightly" in listing.getvalue() and secret not in listing.getvalue()
    call_command("api_token", "revoke", str(token.uuid), stdout=io.StringIO())
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    with pytest.raises(CommandError):
        call_command("api_token", "create", "nobody", "x", stdout=io.StringIO())
