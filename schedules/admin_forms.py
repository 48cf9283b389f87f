"""Forms of the schedule admin: the schedule itself, pause, duplicate.

They hold no rules: `clean()` hands the definition to the same validation
service as the APIs, and the admin's views call the write services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from executions.selectors import component_action_get
from executions.services import component_action_input
from schedules.models import Schedule
from schedules.validation import DEFINITION_FIELDS, schedule_validate_definition

_FORM_EXTRAS = ("is_paused", "paused_reason")
_WALL_CLOCK_FIELDS = ("run_at", "start_at", "end_at")
# The component panel's inputs; the marker is posted only while the panel is
# shown, so a form sent without JavaScript keeps its typed `input` as it is.
PANEL_MARKER = "component_panel"
PANEL_CREDENTIAL = "component_credential"
PANEL_FIELD = "component_field_"

HELP_TEXTS = {
    "target": "The service or component action to run. Type to search; its "
    "description and input fields show below.",
    "input": "JSON object handed to the service; checked against the target's "
    "input schema when you save.",
    "extra": "Free text handed to the service unchanged (for example a "
    "context string an external system expects).",
    "overlap_policy": "What a fire does while an earlier run of this schedule "
    "is still queued or running.",
    "max_parallel": "With 'allow': at most this many runs at once; empty = no limit.",
    "missed_policy": "What happens to fires missed while the dispatcher was down.",
    "catchup_window_seconds": "Missed fires older than this are recorded as "
    "skipped instead of run.",
    "max_retries": "How many times a failed or timed-out run is retried "
    "automatically (0 = never).",
    "retry_delay_seconds": "Delay before the first retry; doubles per attempt.",
    "time_limit_seconds": "A run still going after this many seconds ends as "
    "timed out; empty = the site's default.",
    "keep_runs_days": "Delete finished runs older than this many days; empty = keep.",
    "keep_runs_count": "Keep only this many newest finished runs; empty = keep all.",
    "time_zone": "IANA zone in which cron fields and the dates below are read, "
    "e.g. Europe/Berlin.",
}


class WallClockDateTimeField(forms.SplitDateTimeField):
    """A date and time read in the schedule's zone, not the viewer's.

    The value stays naive: the validation service reads a naive time in the
    schedule's zone (as the API does) and refuses one that falls into a DST
    gap. Initial values are shown in `zone`, set by the form.
    """

    zone: ZoneInfo = ZoneInfo("UTC")

    def compress(self, data_list: Any) -> datetime | None:
        if not data_list:
            return None
        date, time = data_list
        if date in self.empty_values or time in self.empty_values:
            raise ValidationError("Enter a date and a time.", code="invalid_date")
        return datetime.combine(date, time)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value.astimezone(self.zone).replace(tzinfo=None)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        return super().has_changed(self.prepare_value(initial), data)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class ScheduleAdminForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = sorted(DEFINITION_FIELDS) + list(_FORM_EXTRAS)
        field_classes = dict.fromkeys(_WALL_CLOCK_FIELDS, WallClockDateTimeField)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "extra": forms.Textarea(attrs={"rows": 3}),
            "input": forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField"}),
            "paused_reason": forms.TextInput(attrs={"size": 60}),
            "target": forms.TextInput(
                attrs={"list": "target-catalogue", "autocomplete": "off", "size": 40}
            ),
            **dict.fromkeys(_WALL_CLOCK_FIELDS, widgets.AdminSplitDateTime),
        }
        help_texts = HELP_TEXTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone_name = self.instance.time_zone if self.instance.pk else None
        zone_name = zone_name or timezone.get_current_timezone_name()
        for name in _WALL_CLOCK_FIELDS:
            field = self.fields.get(name)
            if not isinstance(field, WallClockDateTimeField):
                continue  # a read-only view of the form has no inputs
            field.zone = _zone(zone_name)
            field.help_text = (
                "Read in the schedule's time zone (the zone field above), "
                f"now {zone_name}."
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self._panel_changed_input = self._merge_component_panel(cleaned)
        self.definition = self._definition(cleaned)
        try:
            schedule_validate_definition(
                data=self.definition,
                now=timezone.now(),
                schedule=self.instance if self.instance.pk else None,
            )
        except ValidationError as error:
            self._add_service_errors(error)
        return cleaned

    def _definition(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        """On change, only what the user changed: validation then judges a
        one-time run_at in the past only when someone just typed it."""
        names = [*self._meta.fields]  # type: ignore[misc]
        if self.instance.pk:
            changed = set(self.changed_data)
            if self._panel_changed_input:
                changed.add("input")
            names = [name for name in names if name in changed]
        return {
            name: cleaned[name]
            for name in names
            if name in cleaned and name not in self.errors
        }

    def _merge_component_panel(self, cleaned: dict[str, Any]) -> bool:
        """Put the panel's credential and field values into ``input`` (they win
        over the same keys typed there); True if ``input`` changed."""
        if PANEL_MARKER not in self.data or {"input", "target"} & set(self.errors):
            return False
        target = str(cleaned.get("target") or "").strip()
        found = component_action_get(target)
        typed = cleaned.get("input")
        if found is None or not isinstance(typed, dict):
            return False
        _, _, module = found
        try:
            values = component_action_input(
                target=target,
                credential=str(self.data.get(PANEL_CREDENTIAL, "")).strip(),
                values={
                    name: self.data.get(PANEL_FIELD + name) for name in module.fields
                },
            )
        except ValidationError as error:
            self._add_service_errors(error)
            return False
        declared = {"credential", *module.fields}
        merged = {k: v for k, v in typed.items() if k not in declared} | values
        cleaned["input"] = merged
        return merged != self.instance.input

    def _add_service_errors(self, error: ValidationError) -> None:
        for field, messages_ in error.message_dict.items():
            for message in messages_:
                if field in self.fields:
                    self.add_error(field, message)
                else:  # e.g. "interval", which spans the five interval fields
                    self.add_error(None, f"{field.replace('_', ' ')}: {message}")


class TagInlineFormSet(BaseInlineFormSet):
    def tags(self) -> dict[str, str]:
        return {
            form.cleaned_data["key"]: form.cleaned_data.get("value", "")
            for form in self.forms
            if form.cleaned_data
            and form.cleaned_data.get("key")
            and not form.cleaned_data.get("DELETE")
        }


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        required=True,
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
        help_text="Shown on the schedule and in its history, e.g. 'vendor "
        "maintenance until Friday'.",
    )


class DuplicateForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"size": 40, "autofocus": True}),
        help_text="Letters, digits, '_', '.' and '-'. The copy starts paused.",
    )
