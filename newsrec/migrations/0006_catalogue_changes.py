"""A change counter for the article table, so that workers can tell in one tiny read whether the
live pool they hold is still current.

The pool used to be fingerprinted with ``count(*)`` and ``max(modified)`` over every article: a
scan of the whole archive on every rebuild (45-60 ms at 100,000 articles), which dominated the
rebuild of a single reader. Now every statement that writes the table (insert, update, delete,
truncate; ORM, admin, bulk loads and raw SQL alike) advances a sequence; sequences never block
concurrent writers.
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE newsrec_catalogue_changes;
CREATE FUNCTION newsrec_catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('newsrec_catalogue_changes');
    RETURN NULL;
END $$;
CREATE TRIGGER newsrec_article_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON newsrec_article
    FOR EACH STATEMENT EXECUTE FUNCTION newsrec_catalogue_changed();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS newsrec_article_changed ON newsrec_article;
DROP FUNCTION IF EXISTS newsrec_catalogue_changed();
DROP SEQUENCE IF EXISTS newsrec_catalogue_changes;
"""


class Migration(migrations.Migration):
    dependencies = [("newsrec", "0005_feed_items_json")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
