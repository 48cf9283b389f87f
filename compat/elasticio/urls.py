from __future__ import annotations

from django.urls import path

from compat.elasticio import v1, v2

# No trailing slashes: the paths are the external API's, and clients (the npm
# client included) POST to them verbatim, so APPEND_SLASH must never redirect.
COMPONENT = "v2/components/<str:component>/versions/<str:rev>"
urlpatterns = [
    path(
        f"{COMPONENT}/verify-credential",
        v2.VerifyCredentialView.as_view(),
        name="elasticio-v2-verify-credential",
    ),
    path(
        f"{COMPONENT}/dynamic-metadata",
        v2.DynamicMetadataView.as_view(),
        name="elasticio-v2-dynamic-metadata",
    ),
    path(
        f"{COMPONENT}/select-model",
        v2.SelectModelView.as_view(),
        name="elasticio-v2-select-model",
    ),
    path(
        "v2/exec/poll/<str:execution_id>",
        v2.PollView.as_view(),
        name="elasticio-v2-poll",
    ),
    path(
        "v2/exec/result/<str:execution_id>",
        v2.ResultView.as_view(),
        name="elasticio-v2-result",
    ),
    path("v1/exec/schedule", v1.ScheduleView.as_view(), name="elasticio-v1-schedule"),
    path(
        "v1/exec/poll/<str:execution_id>",
        v1.PollView.as_view(),
        name="elasticio-v1-poll",
    ),
    path(
        "v1/exec/result/<str:execution_id>",
        v1.ResultView.as_view(),
        name="elasticio-v1-result",
    ),
]
