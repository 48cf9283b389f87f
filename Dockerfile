# One image, three start commands (see docker-compose.yml, whose commands
# .ci/production-smoke runs on every CI build):
#   web:    gunicorn scheduler_site.wsgi --bind 0.0.0.0:8000   (the default)
#   worker: celery -A scheduler_site worker -Q runs,executions
#   beat:   celery -A scheduler_site beat          (runs the dispatcher; one per deployment)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SCHEDULER_VAR_DIR=/var/lib/scheduler \
    MEDIA_ROOT=/var/lib/scheduler/media \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN useradd --create-home --uid 10001 scheduler

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Hashed, compressed static files served by whitenoise; the key exists only for this step.
# The media folder exists in the image, owned by the app's user: a named volume
# mounted there starts as a copy of it (ownership included), so result files
# can be written. Without it Docker creates the mount point owned by root.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /var/lib/scheduler/media \
    && chown -R scheduler:scheduler /var/lib/scheduler

USER scheduler
EXPOSE 8000
CMD ["gunicorn", "scheduler_site.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--threads", "4", "--access-logfile", "-", "--forwarded-allow-ips", "*"]
