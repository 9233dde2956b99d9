"""/healthz for everyone is a summary ("ok" or "error", HTTP 200 or 503); the parts and their reasons are for staff and
HEALTHZ_TOKEN holders; a reason never carries an exception's text; callers are rate-limited (database only: the other
parts are in test_healthz.py)."""

import logging

import pytest
from django.core.cache import cache
from django.urls import reverse

from pools.services.health import CHECKS

pytestmark = pytest.mark.django_db

TOKEN = "access-test-healthz-token"
SECRET_TEXT = "password authentication failed for user launchpad at 10.1.2.3"


@pytest.fixture(autouse=True)
def database_only(monkeypatch, settings):
    settings.HEALTHZ_TOKEN = TOKEN
    settings.HEALTHZ_SUMMARY_MAX_AGE = 0  # each test sees its own parts (one test below turns the reuse on)
    monkeypatch.setattr("pools.services.health._recent", None)
    monkeypatch.setattr("pools.services.health.CHECKS", {"database": CHECKS["database"]})
    cache.clear()  # rate-limit buckets
    yield
    cache.clear()


@pytest.fixture
def database_down(monkeypatch):
    def broken():
        raise RuntimeError(SECRET_TEXT)

    monkeypatch.setattr("pools.services.health.CHECKS", {"database": broken})


def test_anyone_gets_only_the_summary(client):
    response = client.get(reverse("healthz"))

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_the_summary_of_a_part_down_is_503_without_a_word_about_it(client, database_down):
    response = client.get(reverse("healthz"))

    assert (response.status_code, response.json()) == (503, {"status": "error"})


def test_the_public_summary_is_reused_for_a_few_seconds_and_the_token_sees_the_parts_now(client, settings, monkeypatch):
    settings.HEALTHZ_SUMMARY_MAX_AGE = 60
    calls = []
    monkeypatch.setattr("pools.services.health.CHECKS", {"database": lambda: calls.append(1) or {}})
    assert [client.get(reverse("healthz")).status_code for _ in range(3)] == [200, 200, 200]
    assert len(calls) == 1, "three public calls ran the checks once"

    monkeypatch.setattr("pools.services.health.CHECKS", {"database": lambda: 1 / 0})

    assert client.get(reverse("healthz")).status_code == 200  # the summary of a moment ago
    assert client.get(reverse("healthz"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 503


def test_the_token_gets_each_part(client):
    response = client.get(reverse("healthz"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    report = response.json()
    assert response.status_code == 200
    assert report["components"]["database"]["status"] == "ok"
    assert report["components"]["database"]["detail"]["server"].startswith("PostgreSQL")


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer ", TOKEN])
def test_a_wrong_token_gets_the_summary(client, authorization):
    response = client.get(reverse("healthz"), HTTP_AUTHORIZATION=authorization)

    assert response.json() == {"status": "ok"}


def test_no_token_configured_means_no_token_works(client, settings):
    settings.HEALTHZ_TOKEN = ""

    assert client.get(reverse("healthz"), HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ok"}


def test_staff_get_each_part_other_users_do_not(client, django_user_model):
    staff = django_user_model.objects.create_user("operator", password="x", is_staff=True)
    member = django_user_model.objects.create_user("member", password="x")

    client.force_login(member)
    assert "components" not in client.get(reverse("healthz")).json()
    client.force_login(staff)
    assert client.get(reverse("healthz")).json()["components"]["database"]["status"] == "ok"


def test_a_failed_part_gives_a_fixed_reason_and_the_exception_goes_to_the_log(client, database_down, caplog):
    with caplog.at_level(logging.WARNING, logger="pools.services.health"):
        response = client.get(reverse("healthz"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    database = response.json()["components"]["database"]
    assert response.status_code == 503
    assert (database["status"], database["reason"]) == ("error", "database unreachable")
    assert SECRET_TEXT not in response.content.decode()
    assert any(SECRET_TEXT in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


def test_callers_are_rate_limited_per_address_with_retry_after(client, settings):
    settings.HEALTHZ_RATE = "2/minute"
    assert [client.get(reverse("healthz")).status_code for _ in range(2)] == [200, 200]

    limited = client.get(reverse("healthz"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited["Retry-After"]) > 0
    assert client.get(reverse("healthz"), REMOTE_ADDR="10.9.8.7").status_code == 200
