from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")

# DjangoTask gives every task delay_on_commit(), so a job is enqueued only
# after the transaction that created its row has committed.
app = Celery("workbench", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
