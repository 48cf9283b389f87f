"""Pages of our own beside the Django admin: the user's settings."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.accounts import profile_get, profile_set_time_zone
from core.zones import civil_zone_names

_ZONES = sorted(civil_zone_names())


class UserSettingsForm(forms.Form):
    time_zone = forms.ChoiceField(
        choices=[(zone, zone) for zone in _ZONES],
        help_text="Every date in the admin is shown and entered in this zone.",
    )


@login_required
def user_settings(request: HttpRequest) -> HttpResponse:
    profile = profile_get(user=request.user)  # type: ignore[arg-type]
    form = UserSettingsForm(
        request.POST or None, initial={"time_zone": profile.time_zone}
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile_set_time_zone(
                user=request.user,  # type: ignore[arg-type]
                time_zone=form.cleaned_data["time_zone"],
            )
        except ValidationError as exc:
            form.add_error("time_zone", exc.message_dict["time_zone"])
        else:
            messages.success(request, f"Time zone set to {profile.time_zone}.")
            return redirect("user-settings")
    context = {
        **admin.site.each_context(request),
        "title": "Your settings",
        "form": form,
    }
    return render(request, "core/user_settings.html", context)
