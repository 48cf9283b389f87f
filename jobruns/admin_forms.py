"""The run list's date range filter and the Run now form (jobruns/admin.py)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from jobruns.models import JobRun


# --- filters ------------------------------------------------------------------------
class QueuedRangeFilter(admin.ListFilter):
    """Runs queued between two dates, read in the viewer's zone (inclusive days)."""

    title = "queued between"
    template = "admin/jobruns/jobrun/date_range_filter.html"
    parameters = ("queued_from", "queued_to")

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        self.errors: list[str] = []
        for name in self.parameters:
            if name in params:
                raw = params.pop(name)
                self.values[name] = str(raw[-1] if isinstance(raw, list) else raw)
        self.other_params = [
            (key, value)
            for key, values in request.GET.lists()
            if key not in self.parameters
            for value in values
        ]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def choices(self, changelist: Any) -> Iterator[Any]:
        return iter(())  # the template draws its own form

    def _bound(self, name: str, *, end: bool) -> datetime | None:
        text = self.values.get(name, "").strip()
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.errors.append(f"{text!r} is not a date like 2026-12-01")
            return None
        # Midnight in the viewer's zone, converted to an instant at once.
        start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
        return start + timedelta(days=1 if end else 0)

    def queryset(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> Any:
        since = self._bound("queued_from", end=False)
        until = self._bound("queued_to", end=True)
        if since is not None:
            queryset = queryset.filter(queued_at__gte=since)
        if until is not None:
            queryset = queryset.filter(queued_at__lt=until)
        return queryset


class RunNowForm(forms.Form):
    args = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Space-separated, as on a command line; quote a value with "
        'spaces ("two words"). Handed to the service as its args.',
    )
    input = forms.CharField(
        required=False,
        label="Input override",
        widget=forms.Textarea(
            attrs={"rows": 6, "cols": 60, "class": "vLargeTextField"}
        ),
        help_text="A JSON object used for this run only, checked against the "
        "service's input schema. Empty = the schedule's own input.",
    )

    def clean_args(self) -> list[str]:
        try:
            return shlex.split(self.cleaned_data["args"])
        except ValueError as error:
            raise ValidationError(f"cannot split the arguments: {error}") from None

    def clean_input(self) -> dict[str, Any] | None:
        text = self.cleaned_data["input"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(f"not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise ValidationError('the input must be a JSON object, like {"a": 1}')
        return value
