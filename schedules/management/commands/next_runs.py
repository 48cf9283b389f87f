from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from core.commands import bad_input
from schedules import timing


class Command(BaseCommand):
    help = "Print the next N fire times of a cron EXPR read in --tz (and in UTC)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("expression")
        parser.add_argument("--tz", default="UTC")
        parser.add_argument("-n", type=int, default=5)

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["n"] <= 1000:
            raise bad_input("-n must be between 1 and 1000.")
        try:
            trigger = timing.cron_trigger(options["expression"], options["tz"])
        except timing.TimingError as exc:
            raise bad_input(f"{exc.field}: {exc.message}") from None
        zone = trigger.zone
        fires = timing.next_fires(trigger, after=timezone.now(), count=options["n"])
        for fire in fires:
            local = fire.at.astimezone(zone)
            note = f"  ({fire.dst})" if fire.dst else ""
            self.stdout.write(
                f"{local:%Y-%m-%d %H:%M:%S %Z}  {fire.at:%Y-%m-%d %H:%M:%S} UTC{note}"
            )
        if not fires:
            self.stdout.write("No future fire times.")
