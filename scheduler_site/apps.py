from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site package: installed only so its `supervise` command is found."""

    name = "scheduler_site"
    label = "site"
    verbose_name = "Site"
