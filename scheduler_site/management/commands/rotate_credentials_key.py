from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections.services import connection_rotate_keys
from core.crypto import DecryptionError
from executions.services import credential_rotate_keys


class Command(BaseCommand):
    # Here, in the site, because it re-encrypts the secrets of several apps.
    help = (
        "Re-encrypt every stored credential, pending inline secret and outgoing "
        "connection secret with the first key of CREDENTIALS_ENCRYPTION_KEYS. Put "
        "the new key first, keep the old ones after it, run this, then drop the "
        "old ones."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                count = credential_rotate_keys() + connection_rotate_keys()
        except DecryptionError as exc:
            raise CommandError(f"Nothing was changed: {exc}.") from None
        self.stdout.write(f"Re-encrypted {count} value(s) with the first key.")
