"""What keeps the admin's run list cheap at a million runs (jobruns/admin.py).

The page's SQL is a few milliseconds at any size (an index scan for the page,
the planner's estimate for the count, one probe per schedule for the filter);
what is left is Python spent per row. Profiled at 1,000,000 runs, 50 rows a
page: Django's action checkbox rendered a form widget through the template
engine for every row (40 % of building the rows), and every row reversed two
URLs. These helpers make the same HTML with string formatting.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from core.counting import count_bounded
from jobruns.models import JobRun
from jobruns.selectors import jobrun_ordering
from schedules.models import Schedule

# Stands for the primary key in a reversed change URL; never a real key.
_PK_SLOT = "0pk0"


def change_url(viewname: str, pk: int) -> str:
    """reverse(viewname, args=[pk]) for an admin change page, without a resolver
    walk per call: the URL is reversed once per script prefix and the key put in.
    Integer keys only: those need none of the admin's quoting of a key.
    """
    return _change_url_with_slot(viewname, get_script_prefix()).replace(
        _PK_SLOT, str(pk)
    )


@lru_cache(maxsize=32)
def _change_url_with_slot(viewname: str, script_prefix: str) -> str:
    # script_prefix is part of the key because reverse() prepends it.
    return reverse(viewname, args=[_PK_SLOT])


def action_checkbox(run: JobRun) -> SafeString:
    """The HTML of Django's own row checkbox (ModelAdmin.action_checkbox), which
    renders a CheckboxInput through the form template engine for every row."""
    label = format_html(gettext("Select this object for an action - {}"), str(run))
    return format_html(
        '<input type="checkbox" name="{}" value="{}" class="action-select" '
        'aria-label="{}">',
        ACTION_CHECKBOX_NAME,
        run.pk,
        label,
    )


class RunChangeList(ChangeList):
    """Django's change list, with each row's link made by `change_url` and the
    order the run indexes serve (Django would end a sort by status in "-pk").

    A row link carries the list's filters back (`_changelist_filters`); Django
    works them out per row, resolving the row's URL through the whole admin
    URLconf each time. Here they are worked out once (by Django's own
    add_preserved_filters, on the first row's URL) and the rows reuse them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._row_query: str | None = None
        self._list_filters, self.preserved_filters = self.preserved_filters, ""

    def url_for_result(self, result: Any) -> str:
        url = change_url(self._change_viewname, result.pk)
        if self._row_query is None:
            context: dict[str, Any] = {
                "preserved_filters": self._list_filters,
                "opts": self.opts,
            }
            _, _, self._row_query = add_preserved_filters(context, url).partition("?")
        return f"{url}?{self._row_query}" if self._row_query else url

    @property
    def _change_viewname(self) -> str:
        return f"admin:{self.opts.app_label}_{self.opts.model_name}_change"

    def get_ordering(self, request: HttpRequest, queryset: Any) -> list[Any]:
        ordering = super().get_ordering(request, queryset)
        if ordering[-1:] == ["-pk"]:
            ordering = ordering[:-1]  # Django's tiebreak; jobrun_ordering's instead
        keys = [key for key in ordering if isinstance(key, str)]
        return jobrun_ordering(keys) if len(keys) == len(ordering) else ordering


class ScheduleWithRunsFilter(admin.RelatedOnlyFieldListFilter):
    """The schedules that have runs, as links while they are few, else a name box.

    Django's RelatedOnlyFieldListFilter asks for the distinct schedule ids of
    all runs: a full scan of the history on every page (0.4 s at a million
    runs). An EXISTS per schedule is one index probe each, and only the first
    LINKS_MAX + 1 are probed: with 10,000 schedules the sidebar was 10,000
    links (0.2-0.5 s of rendering a page, and no one scrolls them). Past
    LINKS_MAX the filter is a box that takes a schedule's exact name
    (`schedule_name`, served by jobrun_by_name_idx).
    """

    template = "admin/jobruns/jobrun/schedule_filter.html"
    LINKS_MAX = 30
    name_kwarg = "schedule_name"

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        self.many = False
        names = [str(v).strip() for v in _as_list(params.pop(self.name_kwarg, []))]
        self.name = next((name for name in reversed(names) if name), "")
        if self.name:
            params[self.name_kwarg] = [self.name]
        super().__init__(field, request, params, model, model_admin, field_path)
        self.other_params = [
            (key, value)
            for key, values in request.GET.lists()
            if key not in (self.name_kwarg, self.lookup_kwarg, "p")
            for value in values
        ]

    def expected_parameters(self) -> list[str | None]:
        return [*super().expected_parameters(), self.name_kwarg]

    def has_output(self) -> bool:
        return self.many or super().has_output()

    def choices(self, changelist: Any) -> Iterator[Any]:
        # Django's links, each also dropping the name box's value: a link and
        # a name are two ways to pick one schedule, never both at once.
        drop = [self.lookup_kwarg, self.lookup_kwarg_isnull, self.name_kwarg]
        picks: list[dict[str, Any]] = [{}]
        picks += [{self.lookup_kwarg: pk} for pk, _ in self.lookup_choices]
        if self.include_empty_choice:
            picks.append({self.lookup_kwarg_isnull: "True"})
        for choice, pick in zip(super().choices(changelist), picks, strict=True):
            if not pick:  # "All"
                choice["selected"] = choice["selected"] and not self.name
            yield {**choice, "query_string": changelist.get_query_string(pick, drop)}

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: Any
    ) -> list[tuple[str, Any]]:  # label: str or lazy str
        has_runs = Exists(JobRun.objects.filter(schedule=OuterRef("pk")))
        ordering = self.field_admin_ordering(field, request, model_admin)
        schedules = Schedule.objects.filter(Q(has_runs))
        if ordering:
            schedules = schedules.order_by(*ordering)
        choices = [
            (str(pk), name)
            for pk, name in schedules.values_list("pk", "name")[: self.LINKS_MAX + 1]
        ]
        if len(choices) <= self.LINKS_MAX:
            return choices
        self.many = True
        # Only the chosen one stays a link, so the page says what is filtered.
        chosen = Schedule.objects.filter(pk__in=_as_list(self.lookup_val)[-1:])
        return [(str(pk), name) for pk, name in chosen.values_list("pk", "name")]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class EstimatedCountPaginator(Paginator):
    """The run list's "page N of about M" without a COUNT(*) of a long history.

    Unfiltered: PostgreSQL's statistics (pg_class.reltuples, kept by
    autovacuum), free. Filtered: exact up to EXACT_COUNT_UP_TO matches, the
    planner's estimate above (core.counting), where `?status__exact=succeeded`
    counted 980,000 rows in 130 ms on every page. SQLite counts exactly.
    """

    ESTIMATE_FROM = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor != "postgresql" or not isinstance(queryset, QuerySet):
            return super().count
        if queryset.query.where:
            return count_bounded(queryset)[0]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [JobRun._meta.db_table],
            )
            row = cursor.fetchone()
        if row and row[0] >= self.ESTIMATE_FROM:
            return int(row[0])
        return super().count
