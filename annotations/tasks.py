"""Celery tasks: thin wrappers that load a job and call its service."""

from __future__ import annotations

from celery import Task, shared_task

from annotations.services import jobs


# acks_late: the message is acknowledged only after the run returns, so a worker killed
# mid-import leaves it to be redelivered; the job resumes from its last committed batch.
# A delivery that finds the job running with a fresh heartbeat (the redelivery of a pool
# process killed a moment ago looks just like that) looks again later instead of dropping it.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=None)
def run_import_job(self: Task, job_id: int) -> None:
    if jobs.import_job_run(job_id) is None and (wait := jobs.job_recheck_after(job_id)) is not None:
        if self.request.is_eager:  # run inline (CELERY_TASK_ALWAYS_EAGER): a retry would not wait, only recurse
            return
        raise self.retry(countdown=wait)


# An export writes nothing until its file is complete, so a redelivered message simply starts over;
# like an import, a delivery that finds it still running looks again later.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=None)
def run_export_job(self: Task, job_id: int) -> None:
    from annotations.services import exporting

    if exporting.export_job_run(job_id) is None and (wait := jobs.job_recheck_after(job_id)) is not None:
        if self.request.is_eager:
            return
        raise self.retry(countdown=wait)


@shared_task(ignore_result=True)
def expire_export_files() -> None:
    from annotations.services import exporting

    exporting.export_files_expire()
