"""Pages of our own beside the Django admin: the user's settings."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from core.accounts import profile_get, profile_set_clock, profile_set_time_zone
from core.timefmt import format_instant
from core.zones import civil_zone_names

ZONES = sorted(civil_zone_names())
ZONE_LIST_ID = "time-zone-choices"
CLOCKS = [("24", "24-hour (17:05:09)"), ("12", "12-hour (05:05:09 PM)")]


class UserSettingsForm(forms.Form):
    # A text input tied to a <datalist> of every zone: the browser filters the
    # list as the user types and it works with the keyboard alone, without a
    # script; a select of ~600 zones can only be searched by its first letters.
    time_zone = forms.CharField(
        widget=forms.TextInput(
            attrs={"list": ZONE_LIST_ID, "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Type to search, e.g. Tokyo or Europe/Berlin. Every date in "
        "the admin is shown and entered in this zone.",
    )
    # Not required: a post that leaves it out keeps the stored choice.
    clock = forms.ChoiceField(
        choices=CLOCKS, widget=forms.RadioSelect, label="Clock", required=False
    )

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        if zone not in ZONES:
            raise ValidationError(
                f"{zone!r} is not a time zone name; pick one from the list, "
                "e.g. Europe/Berlin or Asia/Tokyo."
            )
        return zone


@login_required
def user_settings(request: HttpRequest) -> HttpResponse:
    profile = profile_get(user=request.user)  # type: ignore[arg-type]
    initial = {
        "time_zone": profile.time_zone,
        "clock": "12" if profile.hour12 else "24",
    }
    form = UserSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        return _save(request, form)
    context = {
        **admin.site.each_context(request),
        "title": "Your settings",
        "form": form,
        "zones": ZONES,
        "zone_list_id": ZONE_LIST_ID,
        "now_shown": format_instant(timezone.now()),
    }
    return render(request, "core/user_settings.html", context)


def _save(request: HttpRequest, form: UserSettingsForm) -> HttpResponse:
    zone = form.cleaned_data["time_zone"]
    profile = profile_set_time_zone(user=request.user, time_zone=zone)  # type: ignore[arg-type]
    hour12 = profile.hour12
    if form.cleaned_data["clock"]:
        hour12 = form.cleaned_data["clock"] == "12"
        profile_set_clock(user=request.user, hour12=hour12)  # type: ignore[arg-type]
    # Named from what was just chosen, not from the profile read before saving.
    clock = "12-hour" if hour12 else "24-hour"
    messages.success(request, f"Time zone set to {zone}, {clock} clock.")
    return redirect("user-settings")
