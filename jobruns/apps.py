from __future__ import annotations

from django.apps import AppConfig


class JobrunsConfig(AppConfig):
    name = "jobruns"
    verbose_name = "Job runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Schedules cannot import jobruns (imports run downhill: jobruns imports
        # schedules), yet saving a schedule must know its target exists and
        # that its input fits the target's schema; the registry lives here, so
        # we hand schedules the three questions it may ask.
        from jobruns.registry import service_catalogue, service_exists
        from jobruns.services import target_input_problem
        from schedules.validation import TargetValidator, register_target_validator

        register_target_validator(
            TargetValidator(
                exists=service_exists,
                input_problem=target_input_problem,
                catalogue=service_catalogue,
            )
        )
