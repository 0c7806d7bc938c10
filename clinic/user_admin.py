"""The Django admin's users, for superusers: they add people and manage their access,
but set nobody's password but their own (issue 15, item 1; docs/security.md).

A person added here gets, like one added through the staff API, no password and an
emailed one-time link to choose it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UsernameField
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from clinic import services

User = get_user_model()


class InviteUserForm(forms.ModelForm):
    email = forms.EmailField(help_text="Their one-time link to choose a password goes here.")

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]
        field_classes = {"username": UsernameField}


class StaffUserAdmin(UserAdmin):
    add_form = InviteUserForm
    add_form_template = None
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "first_name", "last_name", "email")}),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.set_unusable_password()
        obj.save()
        services.staff_invite(obj, settings.PUBLIC_BASE_URL or request.build_absolute_uri("/"))

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        if str(request.user.pk) != str(id):
            raise PermissionDenied(
                "Nobody sets another person's password: they choose it from an emailed link "
                "(/accounts/password/reset/)."
            )
        return super().user_change_password(request, id, form_url)


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
