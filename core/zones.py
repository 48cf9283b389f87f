"""Which names are civil time zones (no Django here: the timing modules use it too).

zoneinfo opens any file under the tz database folder, so it also accepts
entries that are not places: ``localtime`` (a link to the host's own zone,
different on every server), ``posixrules`` (a template for POSIX TZ strings),
``Factory`` (a zone whose abbreviation reads "-00", meaning "not set yet"),
and the ``right/`` (leap-second-counting clocks) and ``posix/`` copies.
A schedule or a user naming one of those would mean something else on
another host, or nothing at all.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

NOT_CIVIL = frozenset({"localtime", "posixrules", "Factory"})
NOT_CIVIL_PREFIXES = ("right/", "posix/")


def is_civil_zone_name(name: str) -> bool:
    """False for the tz database entries that are not a place's civil time."""
    return name not in NOT_CIVIL and not name.startswith(NOT_CIVIL_PREFIXES)


@cache
def civil_zone_names() -> frozenset[str]:
    """Every zone a person may choose (UTC included)."""
    names = available_timezones() | {"UTC"}
    return frozenset(name for name in names if is_civil_zone_name(name))
