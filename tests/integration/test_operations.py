"""Operations: a database outage answers 503s, readiness, metrics, login lockout, JSON logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app, shared_task
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from editorial.models import RulesState
from newsrec.models import Feed
from tests.factories import make_article


@pytest.fixture
def database_down(transactional_db: None) -> Iterator[None]:
    """The default database points at a port where nothing listens (the real server stays up).

    Transactional: the test holds no open transaction on the connection it breaks.
    """
    saved = {**connection.settings_dict, "OPTIONS": dict(connection.settings_dict["OPTIONS"])}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="9")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.usefixtures("database_down")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/"),
        ("get", "/articles/1/"),
        ("get", "/section/Sport/"),
        ("get", "/privacy/"),
        ("get", "/admin/"),  # with a session cookie: the session is read from the database
        ("post", "/admin/login/"),
    ],
)
def test_site_pages_answer_a_fast_503_while_the_database_is_down(method: str, path: str) -> None:
    client = Client()
    client.cookies["sessionid"] = "a" * 32
    start = time.monotonic()
    response = getattr(client, method)(path, data={"username": "ed", "password": "secret"})
    assert time.monotonic() - start < 3
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in response.content


@pytest.mark.usefixtures("database_down")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/feeds/me/", None),
        ("get", "/api/v1/articles/1/", None),
        ("post", "/api/v1/auth/token/", {"username": "ed", "password": "secret"}),
    ],
)
def test_api_answers_503_in_the_error_shape_while_the_database_is_down(
    method: str, path: str, body: dict[str, str] | None
) -> None:
    response = getattr(Client(), method)(path, data=body, content_type="application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The database is unavailable; try again shortly.",
        "errors": {},
    }


# --- /healthz/ and /readyz/ (#14.16) --------------------------------------------------------


@pytest.mark.usefixtures("database_down")
def test_healthz_is_liveness_only_and_answers_while_the_database_is_down() -> None:
    response = Client().get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.usefixtures("database_down")
def test_readyz_names_the_database_when_it_is_down() -> None:
    response = Client().get("/readyz/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert response.json()["status"] == "unavailable"
    assert checks["database"] == {"ok": False, "error": "OperationalError"}
    assert checks["pgvector"] == {"ok": False, "error": "database unavailable"}
    assert checks["rules"] == {"ok": False, "error": "database unavailable"}
    assert checks["broker"]["ok"] is True


@pytest.mark.django_db
def test_readyz_is_200_with_details_when_everything_answers(celery_worker: object) -> None:
    live = RulesState.current()
    Feed.objects.create(key="default", rules_version=live, built_at=timezone.now())
    response = Client().get("/readyz/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {
        "database", "pgvector", "broker", "embedding_model", "celery_workers", "rules", "outbox",
    }  # fmt: skip
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["outbox"]["depth"] == 0  # tasks kept while the broker was down
    assert body["checks"]["pgvector"]["version"]
    assert body["checks"]["rules"]["live_rules_version"] == live
    assert body["checks"]["rules"]["default_feed_rules_version"] == live
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def worker_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's ping reply, without starting one (other checks are under test)."""
    monkeypatch.setattr(current_app.control, "ping", lambda **kw: [{"w@h": {"ok": "pong"}}])


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
def test_readyz_is_503_when_no_worker_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(current_app.control, "ping", lambda **kw: [])
    response = Client().get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"]["celery_workers"] == {"ok": False}


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
def test_readyz_is_503_when_the_broker_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # Celery's broker_url prefers this variable over its settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    start = time.monotonic()
    response = Client().get("/readyz/")
    assert time.monotonic() - start < 3
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"] == {"ok": False, "error": "ConnectionError"}
    assert checks["celery_workers"] == {"ok": False, "error": "broker unavailable"}
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
def test_readyz_is_503_when_the_embedding_model_is_missing(tmp_path: Any) -> None:
    with override_settings(NEWSREC={"EMBEDDING_MODEL": str(tmp_path / "missing")}):
        response = Client().get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"]["embedding_model"] == {"ok": False}


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
@pytest.mark.parametrize(
    ("behind", "built_hours_ago", "ready"),
    [(0, 5, True), (1, 0.1, True), (1, 5, False)],
    ids=["current", "just-changed", "stalled"],
)
def test_readyz_compares_stored_feeds_with_the_live_rules(
    behind: int, built_hours_ago: float, ready: bool
) -> None:
    live = RulesState.current()
    now = timezone.now()
    Feed.objects.create(
        key="default", rules_version=live - behind, built_at=now - timedelta(hours=built_hours_ago)
    )
    Feed.objects.create(key="reader:old", rules_version=0, built_at=now - timedelta(days=90))
    response = Client().get("/readyz/")
    rules = response.json()["checks"]["rules"]
    assert rules == {
        "ok": ready,
        "live_rules_version": live,
        "oldest_feed_rules_version": 0,
        "default_feed_rules_version": live - behind,
    }
    assert response.status_code == (200 if ready else 503)


# --- /metrics (#14.17) ----------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_request_latency_is_labelled_by_view_name_not_path() -> None:
    def count(view: str, status: str) -> float:
        labels = {"view": view, "method": "GET", "status": status}
        return sample("newsrec_request_duration_seconds_count", **labels)

    before = (count("newsrec:healthz", "200"), count("newsrec:article", "404"))
    Client().get("/healthz/")
    Client().get("/articles/987654/")
    Client().get("/articles/987655/")
    assert count("newsrec:healthz", "200") == before[0] + 1
    assert count("newsrec:article", "404") == before[1] + 2
    body = Client().get("/metrics").content.decode()
    assert (
        'newsrec_request_duration_seconds_bucket{le="0.005",method="GET",status="200",view="newsrec:healthz"}'
        in body
    )
    assert "/articles/987654/" not in body


@pytest.mark.django_db
def test_events_are_counted_by_outcome() -> None:
    article = make_article()
    good = {"event_id": "ev-ops-1", "kind": "click", "article_id": article.pk,
            "occurred_at": timezone.now().isoformat()}  # fmt: skip
    before = {s: sample("newsrec_events_total", status=s) for s in ("accepted", "rejected")}
    response = Client().post(
        "/api/v1/events/",
        {"events": [good, {**good, "event_id": "ev-ops-2", "kind": "teleport"}]},
        content_type="application/json",
    )
    assert response.status_code in {200, 207}, response.content
    assert sample("newsrec_events_total", status="accepted") == before["accepted"] + 1
    assert sample("newsrec_events_total", status="rejected") == before["rejected"] + 1


@shared_task(name="tests.operations.fails")
def fails() -> None:
    raise RuntimeError("a task that fails")


def failures_scraped(body: str) -> float:
    line = next(
        x
        for x in body.splitlines()
        if x.startswith('newsrec_task_failures_total{task="tests.operations.fails"}')
    )
    return float(line.rsplit(" ", 1)[1])


@pytest.mark.django_db
def test_task_failures_are_counted_where_every_process_reads_them() -> None:
    body = Client().get("/metrics").content.decode()
    assert 'newsrec_task_failures_total{task="editorial.tasks.rulesets_switch_due"}' in body
    before = failures_scraped(body)
    fails.apply()  # the task_failure signal fires as in a worker
    fails.apply()
    assert failures_scraped(Client().get("/metrics").content.decode()) == before + 2


@pytest.mark.django_db
def test_scrape_time_gauges_for_feed_age_and_fanout(monkeypatch: pytest.MonkeyPatch) -> None:
    now = timezone.now()
    Feed.objects.create(key="default", built_at=now - timedelta(minutes=10))
    Feed.objects.create(key="reader:a", built_at=now - timedelta(hours=2))
    progress = {"run_id": "r1", "total": 1000, "started": 0.0, "done": 250,
                "elapsed_seconds": 60.0, "eta_seconds": 180.0}  # fmt: skip
    monkeypatch.setattr("newsrec.feeds.fanout_progress", lambda: progress)
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in Client().get("/metrics").content.decode().splitlines()
        if line.startswith(("newsrec_feed_age", "newsrec_fanout", "newsrec_scrape_ok"))
    }
    assert values['newsrec_feed_age_seconds{feed="oldest"}'] == pytest.approx(7200, abs=30)
    assert values['newsrec_feed_age_seconds{feed="default"}'] == pytest.approx(600, abs=30)
    assert values['newsrec_feed_age_seconds{feed="newest"}'] == pytest.approx(600, abs=30)
    assert values["newsrec_fanout_readers_total"] == 1000
    assert values["newsrec_fanout_readers_done"] == 250
    assert values["newsrec_fanout_eta_seconds"] == 180
    assert values['newsrec_scrape_ok{part="feeds"}'] == 1


@pytest.mark.django_db
def test_metrics_are_refused_to_other_addresses_unless_staff() -> None:
    assert Client().get("/metrics").status_code == 200  # the test client is 127.0.0.1
    outside = Client(REMOTE_ADDR="203.0.113.7")
    assert outside.get("/metrics").status_code == 403
    outside.force_login(User.objects.create_user("reader", password="x"))
    assert outside.get("/metrics").status_code == 403
    outside.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    assert outside.get("/metrics").status_code == 200
    with override_settings(NEWSREC={"METRICS_ALLOWED_IPS": ["203.0.113.0/24"]}):
        assert Client(REMOTE_ADDR="203.0.113.7").get("/metrics").status_code == 200
        assert Client().get("/metrics").status_code == 403


# --- Admin login lockout (#14.13) -------------------------------------------------------------

LOGIN = "/admin/login/?next=/admin/"


def admin_login(client: Client, password: str) -> Any:
    return client.post(LOGIN, {"username": "ed", "password": password, "next": "/admin/"})


@pytest.fixture
def editor() -> User:
    return User.objects.create_user("ed", password="the-right-password-1", is_staff=True)


@pytest.mark.django_db
@pytest.mark.usefixtures("editor")
def test_admin_login_locks_out_after_ten_wrong_passwords() -> None:
    guesser = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(9):
        assert admin_login(guesser, "wrong").status_code == 200  # the form, with its error
    locked = admin_login(guesser, "wrong")
    assert locked.status_code == 429
    refused = admin_login(guesser, "the-right-password-1")
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many failed login attempts (10 wrong passwords)" in page
    assert "locked for 15 minutes" in page
    assert 'id="site-name"' in page  # the admin's own layout
    assert guesser.get("/admin/").status_code == 302  # not logged in
    # The lock is for this username from this address: the editor elsewhere still gets in.
    assert admin_login(Client(REMOTE_ADDR="192.0.2.1"), "the-right-password-1").status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("editor")
def test_lockout_ends_after_the_cool_off_and_a_success_resets_the_count() -> None:
    from axes.models import AccessAttempt

    guesser = Client(REMOTE_ADDR="198.51.100.8")
    for _ in range(10):
        admin_login(guesser, "wrong")
    assert admin_login(guesser, "the-right-password-1").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert admin_login(guesser, "the-right-password-1").status_code == 302
    assert not AccessAttempt.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("editor")
def test_behind_a_trusted_proxy_the_forwarded_address_is_locked(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    guesser = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    for _ in range(10):
        admin_login(guesser, "wrong")
    assert admin_login(guesser, "the-right-password-1").status_code == 429
    editor = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.5")
    assert admin_login(editor, "the-right-password-1").status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("editor")
def test_login_without_a_request_still_works() -> None:
    # manage.py code and the test client's login() call authenticate() without a request.
    assert Client().login(username="ed", password="the-right-password-1")


# --- Structured logs (#14.18) -------------------------------------------------------------------


@pytest.mark.django_db
def test_one_json_line_per_request_without_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    from newsrec.logs import JsonFormatter

    client = Client(REMOTE_ADDR="203.0.113.50")
    with caplog.at_level("INFO", logger="newsrec.requests"):
        response = client.get("/articles/424242/?q=secret", HTTP_X_REQUEST_ID="req-1")
        client.get("/healthz/")
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "newsrec.requests"]
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert {k: first[k] for k in ("method", "view", "status", "request_id")} == {
        "method": "GET", "view": "newsrec:article", "status": 404, "request_id": "req-1",
    }  # fmt: skip
    assert first["duration_ms"] >= 0
    assert response["X-Request-ID"] == "req-1"
    assert json.loads(lines[1])["request_id"] != "req-1"  # a new one when none is sent
    for line in lines:
        assert "203.0.113.50" not in line
        assert "424242" not in line
        assert "secret" not in line
        assert "reader" not in line


@pytest.mark.django_db
def test_one_log_line_per_celery_task(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="newsrec.tasks"):
        fails.apply(task_id="task-ops-1")
    (record,) = [r for r in caplog.records if r.name == "newsrec.tasks"]
    assert record.task == "tests.operations.fails"  # type: ignore[attr-defined]
    assert record.task_id == "task-ops-1"  # type: ignore[attr-defined]
    assert record.state == "FAILURE"  # type: ignore[attr-defined]
    assert record.runtime_ms >= 0  # type: ignore[attr-defined]
