"""`manage.py import_documents PROJECT PATH... [--format auto]`: the same import job, run here and now."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations import importers as importer_registry
from annotations.exceptions import InvalidInput
from annotations.models import Job, JobRowError, JobStatus, Project
from annotations.services import jobs


class Command(BaseCommand):
    help = "Import documents from files into a project, with a progress bar and a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project id, or its exact name")
        parser.add_argument("paths", nargs="+", type=Path, help="files to import (ZIP archives included)")
        parser.add_argument(
            "--format", default="auto", help=f"auto, or one of: {', '.join(sorted(importer_registry.IMPORTERS))}"
        )
        parser.add_argument("--no-cleanup", action="store_true", help="keep site furniture lines and repeats")
        parser.add_argument("--csv-text-column", default="text", help="CSV column with the document text")

    def handle(self, *args: Any, **options: Any) -> None:
        project = self._project(options["project"])
        missing = [str(p) for p in options["paths"] if not p.is_file()]
        if missing:
            raise CommandError(f"no such file: {', '.join(missing)}")
        handles = [path.open("rb") for path in options["paths"]]
        try:
            job = jobs.import_job_create(
                project=project,
                files=[jobs.UploadedInput(p.name, handle) for p, handle in zip(options["paths"], handles, strict=True)],
                format=options["format"],
                options={"cleanup": not options["no_cleanup"], "csv_text_column": options["csv_text_column"]},
                actor=None,  # the shell is trusted like the admin
            )
        except InvalidInput as error:
            raise CommandError(error.message) from None
        finally:
            for handle in handles:
                handle.close()
        started = time.monotonic()
        job = jobs.import_job_run(job.pk, progress=lambda j: self._bar(j, started)) or job
        self.stderr.write("")
        self._summary(job, time.monotonic() - started)
        if job.status != JobStatus.DONE:
            raise CommandError(f"the import failed: {job.error}")

    def _project(self, ident: str) -> Project:
        project = Project.objects.filter(pk=int(ident)).first() if ident.isdigit() else None
        if project is None:
            matches = list(Project.objects.filter(name=ident)[:2])
            if len(matches) != 1:
                raise CommandError(f"no single project with id or name {ident!r}")
            project = matches[0]
        return project

    def _bar(self, job: Job, started: float) -> None:
        total = max(job.total or 0, job.done, 1)
        width = 30
        filled = int(width * job.done / total)
        rate = job.done / max(time.monotonic() - started, 1e-6)
        bar = "#" * filled + "." * (width - filled)
        line = f"\r[{bar}] {job.done}/{total} records, {job.rows_failed} failed, {rate:,.0f}/s"
        if sys.stderr.isatty():
            self.stderr.write(line, ending="")
        else:
            self.stderr.write(line.lstrip("\r"))

    def _summary(self, job: Job, seconds: float) -> None:
        summary = job.summary or {}
        self.stdout.write(
            f"{job.get_status_display()} in {seconds:.1f} s: {summary.get('documents_created', 0)} documents created, "
            f"{summary.get('skipped_duplicates', 0)} skipped as duplicates, {job.rows_failed} rows failed, "
            f"{summary.get('spans_created', 0)} spans, {summary.get('relations_created', 0)} relations."
        )
        for name, entry in sorted(summary.get("files", {}).items()):
            if entry.get("removed_lines"):
                repeated = entry.get("repeated_lines", 0)
                why = ""
                if repeated == 1:
                    why = ", 1 of them a repeated paragraph"
                elif repeated:
                    why = f", {repeated} of them repeated paragraphs"
                self.stdout.write(f"  {name}: cleanup removed {entry['removed_lines']} line(s){why}")
                repeats = set(entry.get("repeated", []))
                for line in entry.get("removed", [])[:10]:
                    self.stdout.write(f"    - {line}" + ("  (repeat)" if line in repeats else ""))
        for row in JobRowError.objects.filter(job=job).exclude(reason__startswith=jobs.DUPLICATE_PREFIX)[:100]:
            self.stdout.write(f"  {row.source_name}:{row.line or '-'}: {row.reason}")
