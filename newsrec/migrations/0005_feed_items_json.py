"""Feed items as ``json`` instead of ``jsonb``: every rebuild rewrites every feed, and converting
the items into ``jsonb`` cost the database more than the rest of the write (see JSONTextField).
The column stays uncompressed (STORAGE EXTERNAL, as in 0004); changing the type resets it."""

from django.db import migrations

import newsrec.fields


class Migration(migrations.Migration):
    dependencies = [("newsrec", "0004_feed_items_storage")]

    operations = [
        migrations.AlterField(
            model_name="feed",
            name="items",
            field=newsrec.fields.JSONTextField(
                default=list, help_text="Ranked items with reasons and scores."
            ),
        ),
        migrations.RunSQL(
            "ALTER TABLE newsrec_feed ALTER COLUMN items SET STORAGE EXTERNAL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
