"""``/accounts/tokens/``: a person's own API tokens, one per login (device), which they
revoke here; any logged-in person, for their own tokens only (clinic/tokens.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from clinic import tokens
from clinic.web import workplace


@require_GET
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    place = workplace(request)
    return render(
        request,
        "clinic/account/api_tokens.html",
        {
            "tokens": tokens.owned_by(request.user),
            "zone": place.clinic.timezone if place is not None else "UTC",
        },
    )


@require_POST
@login_required
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(tokens.owned_by(request.user), pk=pk)
    tokens.revoke(token)
    messages.success(request, f"Revoked “{token.name}”: it no longer works.")
    return redirect("api-tokens")
