"""`manage.py export_annotations PROJECT --format F [--scope S | --gold-only] [--label L ...] -o FILE`.

Runs the same export job as the web page, in this process, with a progress
bar on stderr; the job stays listed on the project's export page.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.exceptions import InvalidInput
from annotations.exporters import EXPORTERS
from annotations.models import JobStatus, Project
from annotations.services import exporting


class Command(BaseCommand):
    help = "Export a project's annotations to a file, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project id, or its exact name")
        parser.add_argument("--format", "-f", required=True, choices=sorted(EXPORTERS), help="export format")
        parser.add_argument("--scope", choices=exporting.SCOPES, default="all", help="which annotation sets")
        parser.add_argument("--gold-only", action="store_true", help="same as --scope gold")
        parser.add_argument("--label", action="append", default=[], help="keep only this label (repeatable)")
        parser.add_argument("--state", action="append", default=[], help="keep only sets in this state (repeatable)")
        parser.add_argument("--import-job", type=int, help="keep only documents of this import job")
        parser.add_argument("--date-from", help="keep sets changed on or after this day (YYYY-MM-DD)")
        parser.add_argument("--date-to", help="keep sets changed on or before this day (YYYY-MM-DD)")
        parser.add_argument("-o", "--output", required=True, type=Path, help="file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        project = self._project(options["project"])
        output: Path = options["output"]
        if output.is_dir():
            raise CommandError(f"{output} is a directory; name a file")
        scope = "gold" if options["gold_only"] else options["scope"]
        filters = {
            "labels": options["label"],
            "states": options["state"],
            "import_job": options["import_job"],
            "date_from": options["date_from"],
            "date_to": options["date_to"],
        }
        try:
            job = exporting.export_job_create(
                project=project, format=options["format"], scope=scope, filters=filters, actor=None
            )
        except InvalidInput as error:
            raise CommandError(f"{error.field or 'input'}: {error.message}") from None
        started = time.monotonic()
        finished = exporting.export_job_run(job.pk, progress=lambda done, total: self._bar(done, total, started))
        if finished is None or finished.status != JobStatus.DONE:
            raise CommandError(f"export failed: {finished.error if finished else 'the job was taken by a worker'}")
        with finished.output_file.open("rb") as stored, output.open("wb") as target:
            shutil.copyfileobj(stored, target, length=1024 * 1024)
        self._bar(finished.done, finished.total, started)
        self.stderr.write("")
        summary = finished.summary
        self.stdout.write(
            f"Wrote {output}: {summary['documents']} documents, {summary['sets']} sets, {summary['spans']} spans, "
            f"{summary['relations']} relations in {time.monotonic() - started:.1f} s "
            f"(snapshot {summary['manifest']['snapshot_at']}, scope {scope})"
        )

    def _project(self, ident: str) -> Project:
        project = Project.objects.filter(pk=int(ident)).first() if ident.isdigit() else None
        if project is None:
            matches = list(Project.objects.filter(name=ident)[:2])
            if len(matches) != 1:
                raise CommandError(f"no single project with id or name {ident!r}")
            project = matches[0]
        return project

    def _bar(self, done: int, total: int | None, started: float) -> None:
        total = max(total or 0, done, 1)
        width = 30
        filled = int(width * done / total)
        rate = done / max(time.monotonic() - started, 1e-6)
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} documents, {rate:,.0f}/s"
        if sys.stderr.isatty():
            self.stderr.write(line, ending="")
        else:
            self.stderr.write(line.lstrip("\r"))
