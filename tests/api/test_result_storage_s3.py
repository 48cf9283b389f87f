"""Result files in an S3-compatible bucket (FILE_STORAGE=s3, django-storages).

The bucket is served by moto's S3 server on a local port: real HTTP and the
real boto3 client, as against AWS or MinIO, without an account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from jobruns.models import JobRun
from jobruns.services import jobrun_execute
from scheduler_site.env import file_storage_from_env
from tests.support.services import free_port

BUCKET = "scheduler-results"


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test-key", aws_secret_access_key="test-secret",
    ).create_bucket(Bucket=BUCKET)  # fmt: skip
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "FILE_STORAGE": "s3",
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "test-key",
        "S3_SECRET_ACCESS_KEY": "test-secret",
        "S3_PREFIX": "results/",
    }.items():
        monkeypatch.setenv(name, value)
    # Settings are read at start-up; this is what settings.py builds from them.
    settings.STORAGES = {**settings.STORAGES, "default": file_storage_from_env()}
    return boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="test-key", aws_secret_access_key="test-secret",
    )  # fmt: skip


def test_a_runs_result_file_goes_to_the_bucket_and_downloads_through_the_api(
    s3_storage: Any,
    make_schedule: Callable[..., Any],
    make_run: Callable[..., JobRun],
    client_for: Callable[..., APIClient],
    viewer: Any,
) -> None:
    report = make_schedule(target="reports.runs_csv", input={"hours": 1})
    run = make_run(report)
    assert jobrun_execute(run_id=run.pk, worker="w1", in_process=True) == "succeeded"
    run.refresh_from_db()

    keys = [o["Key"] for o in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"results/{run.result_file.name}"]
    stored = s3_storage.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    response = client_for(viewer).get(
        f"/api/v1/runs/{run.pk}/result-file/", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored  # type: ignore[attr-defined]
    assert stored.startswith(b"id,")


def test_a_result_file_gone_from_the_bucket_is_a_404(
    s3_storage: Any,
    make_run: Callable[..., JobRun],
    client_for: Callable[..., APIClient],
    viewer: Any,
) -> None:
    run = make_run(status=JobRun.Status.SUCCEEDED, file=("report.csv", "a,b\n"))
    s3_storage.delete_object(Bucket=BUCKET, Key=f"results/{run.result_file.name}")

    response = client_for(viewer).get(f"/api/v1/runs/{run.pk}/result-file/")

    assert response.status_code == 404
    assert response.json()["detail"] == "The result file is gone (pruned?)."


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FILE_STORAGE": "s3"}, "FILE_STORAGE=s3 needs S3_BUCKET."),
        ({"FILE_STORAGE": "ftp"}, "FILE_STORAGE must be filesystem or s3, got 'ftp'."),
    ],
)
def test_a_bad_storage_setting_stops_start_up_with_a_sentence(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as raised:
        file_storage_from_env()
    assert str(raised.value) == message


def test_the_filesystem_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FILE_STORAGE", raising=False)
    assert file_storage_from_env() == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }
