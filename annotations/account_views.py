"""The account page for personal API tokens: list, create (secret shown once), revoke."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from annotations.exceptions import InvalidInput
from annotations.models import ApiToken
from annotations.services import tokens

EXPIRY_CHOICES = (("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"))


@require_http_methods(["GET", "POST"])
@login_required
def account_tokens(request: HttpRequest) -> HttpResponse:
    new_secret = None
    error = None
    if request.method == "POST":
        days = request.POST.get("expires_in_days", "")
        expires_at = None
        if days:
            if days not in {value for value, _ in EXPIRY_CHOICES}:
                error = "Choose an expiry from the list."
            else:
                expires_at = timezone.now() + datetime.timedelta(days=int(days))
        if error is None:
            try:
                created = tokens.api_token_create(
                    user=request.user, name=request.POST.get("name", ""), expires_at=expires_at
                )
                new_secret = created.secret
            except InvalidInput as problem:
                error = problem.message
    context = {
        "tokens": ApiToken.objects.filter(user=request.user),
        "new_secret": new_secret,
        "error": error,
        "expiry_choices": EXPIRY_CHOICES,
        "now": timezone.now(),
    }
    return render(request, "annotations/account_tokens.html", context, status=400 if error else 200)


@require_POST
@login_required
def account_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    # Scoped to the user's own tokens: another user's id answers 404.
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    tokens.api_token_revoke(token=token, actor=request.user)
    return redirect("annotations:account_tokens")
