from __future__ import annotations

from django.apps import AppConfig


class ConductorCompatConfig(AppConfig):
    name = "compat.conductor"
    label = "conductor_compat"
    verbose_name = "Conductor API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compat.conductor import checks  # noqa: F401
        from compat.conductor.services import conductor_run_context
        from jobruns.services import register_run_input_context

        # Runs of schedules saved through this API get Conductor's `_scheduledTime`,
        # `_executedTime`, `_executionId` and `_startedByScheduler` input keys.
        register_run_input_context(conductor_run_context)
