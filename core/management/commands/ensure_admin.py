"""Create the first admin account when there is none (used by `make run`)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Create a superuser when none exists and print its password once "
        "(ADMIN_PASSWORD overrides the generated one)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=os.environ.get("ADMIN_USER", "admin"))

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already; leaving it alone.")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, password=password)
        shown = (
            "(from ADMIN_PASSWORD)" if os.environ.get("ADMIN_PASSWORD") else password
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin account: user name {username!r}, password {shown}\n"
                "This password is shown only once; change it with "
                f"`.venv/bin/python manage.py changepassword {username}`."
            )
        )
