"""Drop indexes that only slowed writes (imports above all); nothing that reads loses its index.

Each foreign key's own index dropped here is the first column of a composite
index that serves every lookup it served (see the comments on the fields in
models.py), and the index on Change.reverts keeps only the rows that revert
something: a lookup by reverts_id (Django's SET_NULL, PostgreSQL's own check
when a change is deleted) compares with `=` or IN, which never matches NULL.

The database side only drops and creates indexes. Django's AlterField would also
drop and re-add each foreign key, revalidating it over the whole table under a
lock; the constraints themselves do not change, so the state side alone records
db_index=False. The index names are the ones Django generated in 0001 (the same
on PostgreSQL and SQLite).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column, index name Django gave the foreign key's index)
DROPPED = [
    ("annotations_annotationset", "annotator_id", "annotations_annotationset_annotator_id_042320e6"),
    ("annotations_change", "annotation_set_id", "annotations_change_annotation_set_id_8c1710f1"),
    ("annotations_change", "reverts_id", "annotations_change_reverts_id_1925815d"),
    ("annotations_document", "project_id", "annotations_document_project_id_8ed9331e"),
    ("annotations_span", "annotation_set_id", "annotations_span_annotation_set_id_cc5919bf"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0003_gold_decisions_and_withdrawn_sets"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
                )
                for table, column, name in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="annotationset",
                    name="annotator",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="annotation_sets",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="change",
                    name="annotation_set",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="changes",
                        to="annotations.annotationset",
                    ),
                ),
                migrations.AlterField(
                    model_name="change",
                    name="reverts",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="annotations.change",
                    ),
                ),
                migrations.AlterField(
                    model_name="document",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="documents",
                        to="annotations.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="span",
                    name="annotation_set",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="spans",
                        to="annotations.annotationset",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="change",
            index=models.Index(
                condition=models.Q(("reverts__isnull", False)), fields=["reverts"], name="change_reverts_idx"
            ),
        ),
    ]
