"""Celery tasks: thin wrappers that load a job and call its service."""

from __future__ import annotations

from celery import shared_task

from annotations.services import jobs


# acks_late: the message is acknowledged only after the run returns, so a worker killed
# mid-import leaves it to be redelivered; the job resumes from its last committed batch.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_import_job(job_id: int) -> None:
    jobs.import_job_run(job_id)


# An export writes nothing until its file is complete, so a redelivered message simply starts over.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_export_job(job_id: int) -> None:
    from annotations.services import exporting

    exporting.export_job_run(job_id)


@shared_task(ignore_result=True)
def expire_export_files() -> None:
    from annotations.services import exporting

    exporting.export_files_expire()
