"""What keeps the admin's run list cheap at a million runs (jobruns/admin.py).

The page's SQL is a few milliseconds at any size (an index scan for the page,
the planner's estimate for the count, one probe per schedule for the filter);
what is left is Python spent per row. Profiled at 1,000,000 runs, 50 rows a
page: Django's action checkbox rendered a form widget through the template
engine for every row (40 % of building the rows), and every row reversed two
URLs. These helpers make the same HTML with string formatting.

Profiled again (December 2026), building the rows was still a third of the
page: Django's items_for_result works out every cell's column afresh (a field
lookup that raises for a method column, the empty value, the link, the
classes), 250 cells a page. `result_rows` works out each column once a page
and makes the same cells.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_hidden_fields,
    results,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.functional import cached_property
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


def cell_html(template: str, *args: Any) -> SafeString:
    """format_html(template, *args) for the list's cells: the same escaping
    (django.utils.html.conditional_escape, whose escape is html.escape) without
    the lazy-string check Django wraps around every escape() call (15 % of a
    page of runs under cProfile, before)."""
    # SafeString(), not mark_safe(): that too checks for lazy strings per call.
    return SafeString(template.format(*map(_escaped, args)))


def _escaped(value: Any) -> str:
    if hasattr(value, "__html__"):
        return value.__html__()  # type: ignore[no-any-return]
    return html.escape(str(value))


def action_checkbox(run: JobRun) -> SafeString:
    """The HTML of Django's own row checkbox (ModelAdmin.action_checkbox), which
    renders a CheckboxInput through the form template engine for every row."""
    label = cell_html(gettext("Select this object for an action - {}"), str(run))
    return cell_html(
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


def result_list(cl: ChangeList) -> dict[str, Any]:
    """The context of Django's result_list tag (admin_list.result_list), with
    the rows made by `result_rows`."""
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": result_rows(cl),
    }


@dataclass(frozen=True)
class _Column:
    """What items_for_result works out per cell that is the same for every row."""

    show: Callable[[Any], Any]  # the admin's method for the column
    tag: str  # "th" for the row's first link, else "td"
    classes: str
    link: bool
    empty: str
    boolean: bool


def result_rows(cl: ChangeList) -> list[ResultList]:
    """The rows of Django's items_for_result, each column worked out once.

    Only for the lists this module serves: every column a method of the
    model admin, no list_editable form, no popup. Any other list gets
    Django's own rows.
    """
    columns = _columns(cl)
    if columns is None:
        return list(results(cl))
    return [ResultList(None, _cells(cl, columns, row)) for row in cl.result_list]


def _columns(cl: ChangeList) -> list[_Column] | None:
    if cl.formset or cl.is_popup or cl.list_display_links is None:
        return None
    empty = cl.model_admin.get_empty_value_display()
    columns, first = [], True
    for name in cl.list_display:
        show = _admin_method(cl, name)
        if show is None:
            return None
        link = (first and not cl.list_display_links) or name in cl.list_display_links
        checkbox = name == "action_checkbox"
        columns.append(
            _Column(
                show=show,
                tag="th" if link and first else "td",
                classes="action-checkbox" if checkbox else f"field-{name}",
                link=link,
                empty=getattr(show, "empty_value_display", empty),
                boolean=getattr(show, "boolean", False),
            )
        )
        first = first and not link
    return columns


def _admin_method(cl: ChangeList, name: Any) -> Callable[[Any], Any] | None:
    """The model admin's method a column shows, as admin.utils.lookup_field finds
    it: a name that is no field of the model and is an attribute of the admin."""
    if not isinstance(name, str) or name == "__str__":
        return None
    try:
        cl.lookup_opts.get_field(name)
    except FieldDoesNotExist:
        method = getattr(cl.model_admin, name, None)
        return method if callable(method) else None
    return None


def _cells(cl: ChangeList, columns: list[_Column], row: Any) -> list[SafeString]:
    cells = []
    for column in columns:
        value = column.show(row)
        if isinstance(value, str) and not value.strip():
            value = ""
        shown: str
        if isinstance(value, SafeString) and value and not column.boolean:
            shown = value  # what display_for_value answers for it
        else:
            shown = _escaped(display_for_value(value, column.empty, column.boolean))
        classes = column.classes
        if isinstance(value, datetime.date | datetime.time):
            classes += " nowrap"
        if column.link:
            shown = _linked(cl, row, shown)
        # The tag and classes are Python names, as Django leaves them unescaped.
        cell = f'<{column.tag} class="{classes}">{shown}</{column.tag}>'
        cells.append(SafeString(cell))  # the value escaped above
    return cells


def _linked(cl: ChangeList, row: Any, shown: str) -> str:
    try:
        url = cl.url_for_result(row)
    except NoReverseMatch:
        return shown  # as Django: the text without a link
    return f'<a href="{html.escape(url)}">{shown}</a>'


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
