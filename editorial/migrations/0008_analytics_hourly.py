# Editors' analytics: events rolled up per article, surface and hour (#15.2).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("editorial", "0007_editors_picks"),
        ("newsrec", "0007_ranker_models"),
    ]

    operations = [
        migrations.CreateModel(
            name="ArticleHourStats",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField(help_text="Start of the hour (UTC).")),
                (
                    "surface",
                    models.CharField(
                        blank=True, help_text="Where it was shown or read.", max_length=32
                    ),
                ),
                ("impressions", models.PositiveIntegerField(default=0)),
                ("clicks", models.PositiveIntegerField(default=0)),
                ("reads", models.PositiveIntegerField(default=0)),
                ("finishes", models.PositiveIntegerField(default=0)),
                ("hides", models.PositiveIntegerField(default=0)),
                (
                    "dwell_seconds",
                    models.FloatField(default=0.0, help_text="Sum of each reader's longest dwell."),
                ),
                (
                    "dwell_reads",
                    models.PositiveIntegerField(default=0, help_text="Reads with a dwell time."),
                ),
                (
                    "article",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="newsrec.article",
                    ),
                ),
            ],
            options={
                "verbose_name": "analytics",
                "verbose_name_plural": "analytics",
                "indexes": [models.Index(fields=["hour"], name="editorial_hourstats_hour")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "article", "surface"), name="editorial_hourstats_key"
                    )
                ],
            },
        ),
    ]
