"""/rest/ng/... as OpenSpecimen serves it (mounted at rest/ng/ by the root urls).

Paths take an optional trailing slash, as Spring's matching did; anything else
under /rest/ng/ answers OpenSpecimen's "endpoint not found" ProblemDetail.
"""

from __future__ import annotations

from django.urls import re_path

from compat.openspecimen import errors, views

JOB = r"scheduled-jobs/(?P<job_id>[^/]+)"
RUN = JOB + r"/runs/(?P<run_id>[^/]+)"

urlpatterns = [
    re_path(r"^sessions/?$", views.SessionsView.as_view(), name="os-sessions"),
    re_path(r"^scheduled-jobs/?$", views.JobsView.as_view(), name="os-jobs"),
    re_path(
        r"^scheduled-jobs/count/?$", views.JobCountView.as_view(), name="os-job-count"
    ),
    re_path(rf"^{JOB}/?$", views.JobView.as_view(), name="os-job"),
    re_path(rf"^{JOB}/runs/?$", views.JobRunsView.as_view(), name="os-job-runs"),
    re_path(rf"^{RUN}/?$", views.JobRunView.as_view(), name="os-job-run"),
    re_path(
        rf"^{RUN}/result-file/?$",
        views.RunResultFileView.as_view(),
        name="os-job-run-result-file",
    ),
    re_path(r"^.*$", errors.endpoint_not_found, name="os-not-found"),
]
