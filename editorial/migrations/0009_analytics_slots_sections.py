# Editors' analytics per slot and section, with dwell histograms for medians, and the same
# summed per day for long periods (#15.2).
#
# The hourly rows are derived data: the old ones (no slot, section or histogram) are dropped
# and rebuilt from the events by the daily window roll-up, or at once by
# `manage.py editorial_analytics_rollup`.

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("editorial", "0008_analytics_hourly"),
        ("newsrec", "0012_outbox"),
    ]

    operations = [
        migrations.RunSQL(
            "DELETE FROM editorial_articlehourstats", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.CreateModel(
            name="FacetHourStats",
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
                    "dwell_buckets",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.PositiveIntegerField(),
                        blank=True,
                        default=list,
                        help_text="Reads per dwell-time bucket (DWELL_BUCKET_EDGES), for medians.",
                        size=None,
                    ),
                ),
                (
                    "facet",
                    models.CharField(
                        choices=[("slot", "Slot"), ("section", "Section")], max_length=8
                    ),
                ),
                (
                    "value",
                    models.CharField(blank=True, help_text="The slot or section.", max_length=100),
                ),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="articlehourstats",
            name="editorial_hourstats_key",
        ),
        migrations.AddField(
            model_name="articlehourstats",
            name="dwell_buckets",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.PositiveIntegerField(),
                blank=True,
                default=list,
                help_text="Reads per dwell-time bucket (DWELL_BUCKET_EDGES), for medians.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="articlehourstats",
            name="section",
            field=models.CharField(
                blank=True, help_text="The article's section when rolled up.", max_length=100
            ),
        ),
        migrations.AddField(
            model_name="articlehourstats",
            name="slot",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="Position in the list shown (1 = top); empty: none.",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="articlehourstats",
            index=models.Index(fields=["article", "hour"], name="editorial_hourstats_article"),
        ),
        migrations.AddConstraint(
            model_name="articlehourstats",
            constraint=models.UniqueConstraint(
                fields=("hour", "article", "surface", "slot"),
                name="editorial_hourstats_key",
                nulls_distinct=False,
            ),
        ),
        migrations.AddIndex(
            model_name="facethourstats",
            index=models.Index(fields=["facet", "hour"], name="editorial_facetstats_hour"),
        ),
        migrations.AddConstraint(
            model_name="facethourstats",
            constraint=models.UniqueConstraint(
                fields=("hour", "facet", "surface", "value"), name="editorial_facetstats_key"
            ),
        ),
        migrations.CreateModel(
            name="FacetDayStats",
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
                    "dwell_buckets",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.PositiveIntegerField(),
                        blank=True,
                        default=list,
                        help_text="Reads per dwell-time bucket (DWELL_BUCKET_EDGES), for medians.",
                        size=None,
                    ),
                ),
                (
                    "facet",
                    models.CharField(
                        choices=[("slot", "Slot"), ("section", "Section")], max_length=8
                    ),
                ),
                (
                    "value",
                    models.CharField(blank=True, help_text="The slot or section.", max_length=100),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["facet", "hour"], name="editorial_facetdays_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "facet", "surface", "value"), name="editorial_facetdays_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ArticleDayStats",
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
                    "dwell_buckets",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.PositiveIntegerField(),
                        blank=True,
                        default=list,
                        help_text="Reads per dwell-time bucket (DWELL_BUCKET_EDGES), for medians.",
                        size=None,
                    ),
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
                "indexes": [models.Index(fields=["hour"], name="editorial_daystats_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "article", "surface"), name="editorial_daystats_key"
                    )
                ],
            },
        ),
    ]
