"""Store feed items uncompressed: every rebuild rewrites every feed, and compressing the row
costs more CPU than the disk it saves (feeds are a few KB each)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("newsrec", "0003_feeds")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE newsrec_feed ALTER COLUMN items SET STORAGE EXTERNAL",
            reverse_sql="ALTER TABLE newsrec_feed ALTER COLUMN items SET STORAGE EXTENDED",
        ),
    ]
