from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from jobruns.services import jobrun_prune


class Command(BaseCommand):
    help = "Delete finished runs beyond each schedule's retention, with their files."

    def handle(self, *args: Any, **options: Any) -> None:
        count = jobrun_prune(now=timezone.now())
        self.stdout.write(f"Deleted {count} run(s).")
