"""Set up the demo site: logins, The Harbourtown Ledger's articles, optional import, embeddings."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from tqdm import tqdm

from demo.content import rows as demo_rows
from newsrec import services
from newsrec.conf import newsrec_settings
from newsrec.ingest import UpsertReport
from newsrec.models import Article, EmbeddingStatus

UPSERT_BATCH = 100
# Readers' personal data stay hidden from both roles unless someone grants this explicitly.
READER_DATA = "view_reader_data"
# username, password, group, superuser: neither is a superuser, each holds its group's rights only
DEMO_LOGINS = (
    ("editor", "editor-demo-password", "Editor", False),
    ("senior", "senior-demo-password", "Senior editor", False),
)


def demo_group_permissions(group_name: str) -> list[Permission]:
    """Editor: edit and preview rules, edit articles, read the learned ranker's model cards.
    Senior editor: also publish, roll back, start and stop experiments, switch the ranker, and
    manage the catalogue and API keys."""
    editorial = Permission.objects.filter(content_type__app_label="editorial")
    newsrec = Permission.objects.filter(content_type__app_label="newsrec").exclude(
        codename=READER_DATA
    )
    if group_name == "Senior editor":
        return [*editorial, *newsrec]
    return [
        *editorial.exclude(codename__in=["publish_ruleset", "run_experiment"]),
        *newsrec.filter(codename__in=["view_article", "change_article", "view_rankermodel"]),
    ]


class Command(BaseCommand):
    help = (
        "Prepare the demo: create the demo logins (editor / editor-demo-password, "
        "senior / senior-demo-password) and their groups, load the Harbourtown Ledger demo "
        "articles, optionally import --data PATH, then embed every article still missing a "
        "vector in this process (skip with --no-embed; the Celery worker then does it). "
        "Publication times in the demo file are offsets from an anchor: the first load anchors "
        "at the current hour; later loads reuse that anchor (derived from the stored time of the "
        "first dated demo article) so nothing is rewritten, unless it is more than 3 days old, "
        "when the demo is re-dated to look fresh again. Safe to run repeatedly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data", metavar="PATH", help="also import this file with newsrec_import"
        )
        parser.add_argument(
            "--no-embed", action="store_true", help="leave embedding to the Celery worker"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        try:
            raw = demo_rows.read_demo_file(demo_rows.DEMO_ARTICLES)
        except demo_rows.DemoDataError as exc:
            raise CommandError(f"Demo articles: {exc}") from exc
        self._ensure_logins()
        self._load_articles(raw)
        if options["data"]:
            call_command("newsrec_import", options["data"], stdout=self.stdout, stderr=self.stderr,
                         verbosity=verbosity)  # fmt: skip
        if not options["no_embed"]:
            self._embed_missing(show_progress=verbosity > 0)
        from newsrec import feeds

        # The front page shows "Top stories" at once; readers' feeds follow from the worker.
        feeds.feeds_rebuild(reader_ids=list(feeds.readers_to_refresh()), include_default=True)
        total = Article.objects.count()
        live = Article.objects.published().count()
        embedded = Article.objects.embedded().count()
        self.stdout.write(
            self.style.SUCCESS(f"Demo ready: {total} articles ({live} live), {embedded} embedded.")
        )

    def _ensure_logins(self) -> None:
        """Create the groups and logins if missing; existing passwords are left alone."""
        user_model = get_user_model()
        for username, password, group_name, superuser in DEMO_LOGINS:
            group, _ = Group.objects.get_or_create(name=group_name)
            group.permissions.set(demo_group_permissions(group_name))
            user, created = user_model.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
            # The documented demo roles must hold even if someone edited them in the admin.
            user.is_staff, user.is_superuser, user.is_active = True, superuser, True
            user.save()
            user.groups.add(group)
            note = "created" if created else "exists, password unchanged"
            self.stdout.write(f"Login {username} / {password} ({group_name}; {note})")

    def _load_articles(self, raw: list[dict[str, Any]]) -> None:
        now = timezone.now()
        stored = dict(
            Article.objects.filter(external_id__in=demo_rows.reference_ids(raw)).values_list(
                "external_id", "published_at"
            )
        )
        anchor, reused = demo_rows.choose_anchor(raw, now=now, stored=stored)
        rows = demo_rows.dated_rows(raw, anchor=anchor)
        report = UpsertReport()
        try:
            # One transaction: the demo loads whole or not at all, and the embedding tasks that
            # article_upsert_many queues on commit go out once, at the end.
            with transaction.atomic():
                for start in range(0, len(rows), UPSERT_BATCH):
                    report.merge(services.article_upsert_many(
                        rows=rows[start : start + UPSERT_BATCH], start=start
                    ))  # fmt: skip
        except BrokerError as exc:
            # The rows are committed; only the Celery hand-off failed. Embedding below covers it.
            self.stderr.write(f"Could not queue embedding tasks (is Redis running?): {exc}")
        when = "kept from the earlier load" if reused else "set to now"
        self.stdout.write(
            f"Demo articles: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.rejected)} rejected "
            f"(times anchored at {anchor:%Y-%m-%d %H:%M} UTC, {when})."
        )
        for rejection in report.rejected[:10]:
            reasons = "; ".join(f"{k}: {v}" for k, v in rejection.reasons.items())
            self.stderr.write(f"  row {rejection.index + 1} ({rejection.external_id}): {reasons}")

    def _embed_missing(self, *, show_progress: bool) -> None:
        """Embed synchronously; with nothing to do the model is never loaded."""
        max_retries = int(newsrec_settings.EMBEDDING_MAX_RETRIES)
        ids = list(
            Article.objects.needing_embedding()
            .exclude(embedding_status=EmbeddingStatus.FAILED, embedding_attempts__gte=max_retries)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return
        size = int(newsrec_settings.EMBEDDING_TASK_SIZE)
        totals = {"embedded": 0, "failed": 0}
        with tqdm(total=len(ids), unit="article", desc="Embedding", file=sys.stderr,
                  disable=not show_progress) as bar:  # fmt: skip
            for start in range(0, len(ids), size):
                batch = ids[start : start + size]
                try:
                    result = services.articles_embed(article_ids=batch)
                except services.EmbeddingBatchError as exc:
                    # A model error repeats for every batch; stop and let the worker retry later.
                    self.stderr.write(
                        f"Embedding stopped, the model failed: {exc}. The Celery worker retries "
                        "the remaining articles."
                    )
                    break
                totals["embedded"] += result["embedded"]
                totals["failed"] += result["failed"]
                bar.update(len(batch))
        self.stdout.write(f"Embedded {totals['embedded']} article(s); {totals['failed']} failed.")
