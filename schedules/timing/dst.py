"""Turning a wall-clock label into zero, one or two UTC instants.

This is where the product's DST promise lives. A label in a spring-forward gap
does not exist: `SHIFT` fires at the first instant after the gap, `SKIP` does
not fire. A label in a fall-back fold exists twice: `FIRST` fires at the first
occurrence only, `BOTH` fires at both and marks the second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class DstGap(StrEnum):
    SHIFT = "shift"
    SKIP = "skip"


class DstFold(StrEnum):
    FIRST = "first"
    BOTH = "both"


class DstNote(StrEnum):
    SHIFTED = "shifted"  # moved out of a spring-forward gap
    REPEATED = "repeated"  # second occurrence of a fall-back wall time


@dataclass(frozen=True)
class Fire:
    """One planned execution: a UTC instant, and why DST moved it, if it did."""

    at: datetime
    dst: DstNote | None = None


@dataclass(frozen=True)
class Resolution:
    """What one label yields. `earliest` never decreases as labels increase, which
    is what lets the search stop; only a fold's second pass breaks the order of
    the fires themselves."""

    earliest: datetime
    fires: tuple[Fire, ...]


def resolve(wall: datetime, zone: ZoneInfo, gap: DstGap, fold: DstFold) -> Resolution:
    """The UTC fires for the naive label `wall` in `zone` under the given policies."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    first_offset, second_offset = first.utcoffset(), second.utcoffset()
    assert first_offset is not None  # a ZoneInfo always has an offset
    assert second_offset is not None
    if first_offset == second_offset:
        at = first.astimezone(UTC)
        return Resolution(at, (Fire(at),))
    if first_offset > second_offset:  # the offset falls: the label exists twice
        at = first.astimezone(UTC)
        repeat = (Fire(second.astimezone(UTC), DstNote.REPEATED),)
        return Resolution(at, (Fire(at), *(repeat if fold is DstFold.BOTH else ())))
    # The offset rises: the label is in a gap. With fold=1 PEP 495 reads it with
    # the later offset (an instant before the jump), with fold=0 with the earlier
    # one (an instant after it); the jump itself lies between the two.
    after_gap = _offset_change(second.astimezone(UTC), first.astimezone(UTC), zone)
    fires = (Fire(after_gap, DstNote.SHIFTED),) if gap is DstGap.SHIFT else ()
    return Resolution(after_gap, fires)


def _offset_change(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """First whole second in (low, high] whose offset differs from low's."""
    old = low.astimezone(zone).utcoffset()
    below, above = 0, int((high - low).total_seconds())
    while above - below > 1:
        middle = (below + above) // 2
        if (low + timedelta(seconds=middle)).astimezone(zone).utcoffset() == old:
            below = middle
        else:
            above = middle
    return low + timedelta(seconds=above)


def search_floor(after: datetime, zone: ZoneInfo) -> datetime:
    """The smallest label that can still yield a fire strictly after `after`."""
    local = after.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    repeat_offset = local.replace(fold=1).utcoffset()
    offset = local.utcoffset()
    assert offset is not None
    assert repeat_offset is not None
    if local.fold == 0 and repeat_offset < offset:
        # `after` is in the first pass of a fold: labels a little earlier than its
        # own come round again. Step back by the fold's size in elapsed time.
        earlier = (after - (offset - repeat_offset)).astimezone(zone)
        return earlier.replace(tzinfo=None, fold=0)
    return wall
