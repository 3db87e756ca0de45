"""The session store and auth backend that read with hand-written SQL keep Django's rules."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.auth_backends import ModelBackend

pytestmark = pytest.mark.django_db

PAGE = reverse("annotations:project_list")


def signed_in(world) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": "analyst", "password": "correct-horse-battery"})
    assert response.status_code == 302, response.content[:300]
    return client


def test_a_form_login_lasts_across_requests_and_logout_ends_it(world):
    client = signed_in(world)
    assert client.get(PAGE).status_code == 200
    assert client.get(PAGE).wsgi_request.user == world.analyst
    client.post(reverse("logout"))
    assert client.get(PAGE).status_code == 302


def test_an_expired_session_is_no_session(world):
    client = signed_in(world)
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get(PAGE)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_deactivated_user_is_signed_out_at_the_next_request(world):
    client = signed_in(world)
    world.analyst.is_active = False
    world.analyst.save()
    assert client.get(PAGE).status_code == 302


def test_the_backend_loads_the_user_as_the_orm_does_and_refuses_odd_ids(world):
    user = ModelBackend().get_user(world.analyst.pk)
    assert user == world.analyst
    assert (user.username, user.is_active, user.date_joined) == ("analyst", True, world.analyst.date_joined)
    assert ModelBackend().get_user(10**9) is None
    assert ModelBackend().get_user("not-a-number") is None
