"""The transparency page against the real signer process: attestation, log like an explorer, offline verification."""

import json
import re
import subprocess
import sys
import uuid

import pytest
from django.urls import reverse

from chain.rpc import JsonRpc
from enclave_signer import tdx
from tests.anvil import PROJECT_ROOT
from tests.indexer.support import ChainDriver
from tests.launch.test_lifecycle import scheduled_pool
from web import transparency

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db]

TEE_SAMPLES = PROJECT_ROOT / "tests" / "data" / "tee-samples"
SAMPLE_COMPOSE_HASH = "3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7"


@pytest.fixture
def chain(signer_stack, anvil, chain_snapshot) -> ChainDriver:
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


def test_the_page_shows_the_attestation_and_the_log_newest_first(client, chain, django_assert_max_num_queries):
    pool = scheduled_pool(chain)

    with django_assert_max_num_queries(0):
        body = client.get(reverse("transparency")).content.decode()

    assert "data-tee>none (development)</dd>" in body
    assert "Development mode" in body
    seqs = [int(chunk.split('"', 1)[0]) for chunk in body.split('data-seq="')[1:]]
    assert seqs == sorted(seqs, reverse=True) and seqs[-1] == 0
    assert "Pool registered" in body and f"<td>{pool.pk}</td>" in body


def test_the_page_shows_the_verdict_of_the_offline_verifier_on_a_development_report(client, chain):
    body = client.get(reverse("transparency")).content.decode()

    assert "VALID DEVELOPMENT REPORT" in body and 'class="verdict verdict-dev"' in body
    assert _check(body, "report") == ("pass", "✓")
    assert _check(body, "nonce") == ("skip", "–")
    assert _check(body, "quote") == ("skip", "–")
    assert "Code measurement" not in body
    assert "a development report names no code at all" in body
    assert "the log key signed this report" in body  # the verifier's "Proven" list
    command = _verify_command(body)
    assert "--nonce YOUR-RANDOM-TEXT" in command and "--fetch-collateral" not in command


def test_the_expected_compose_hash_is_shown_and_put_into_the_suggested_command(client, chain, settings):
    settings.SIGNER_EXPECTED_COMPOSE_HASH = "ab" * 32

    body = client.get(reverse("transparency")).content.decode()

    assert f"data-expected-compose-hash>{'ab' * 32}</code>" in body
    assert f"--expect-compose-hash {'ab' * 32}" in _verify_command(body)


def test_a_collateral_fetch_that_fails_is_a_line_of_the_verdict_not_an_error_page(client, chain, settings, monkeypatch):
    settings.ATTESTATION_PCCS_URL = "http://127.0.0.1:9"  # a closed loopback port
    fetches = _with_quote_and_counted_fetches(monkeypatch, fetch=tdx.fetch_collateral)

    responses = [client.get(reverse("transparency")) for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    body = responses[-1].content.decode()
    assert _check(body, "collateral")[0] == "skip"
    assert "cannot fetch collateral from http://127.0.0.1:9" in body
    assert "signature not checked: no collateral" in body
    assert SAMPLE_COMPOSE_HASH in body
    assert len(fetches) == 1  # the failure is remembered for a minute, not retried on every page view


def test_fetched_collateral_is_cached_and_used_for_the_quote(client, chain, settings, monkeypatch):
    settings.ATTESTATION_PCCS_URL = "http://127.0.0.1:9"
    sample = (TEE_SAMPLES / "tdx_quote_collateral.json").read_text()
    fetches = _with_quote_and_counted_fetches(monkeypatch, fetch=lambda raw, *, pccs_url: tdx.load_collateral(sample))

    bodies = [client.get(reverse("transparency")).content.decode() for _ in range(2)]

    assert len(fetches) == 1
    for body in bodies:
        assert 'data-check="collateral"' not in body
        assert _check(body, "quote")[0] == "fail" and "does not verify at" in body  # checked: the sample is old


def _with_quote_and_counted_fetches(monkeypatch, *, fetch) -> list[str]:
    """Test doubles: the real signer's development report with a real dstack quote, event log and vm_config merged
    in (tests/data/tee-samples/quote-report.json), and a collateral fetch that records each call; a fresh cache."""
    sample = json.loads((TEE_SAMPLES / "quote-report.json").read_text())
    tee_fields = {key: sample[key] for key in ("quote", "event_log", "vm_config")}
    real_attestation = transparency.attestation
    monkeypatch.setattr(transparency, "attestation", lambda *, nonce: {**real_attestation(nonce=nonce), **tee_fields})
    monkeypatch.setattr(transparency, "COLLATERAL_CACHE_PREFIX", f"test:{uuid.uuid4().hex}:")
    fetches: list[str] = []

    def counted(raw, *, pccs_url):
        fetches.append(pccs_url)
        return fetch(raw, pccs_url=pccs_url)

    monkeypatch.setattr(tdx, "fetch_collateral", counted)
    return fetches


def _check(body: str, name: str) -> tuple[str, str]:
    """The status and the mark of one row of the page's verdict table."""
    match = re.search(
        rf'<tr data-check="{re.escape(name)}" data-status="(\w+)">\s*<td class="mark[^"]*">.*?>(.)</span>', body, re.S
    )
    assert match, f"no {name!r} check on the page"
    return match.group(1), match.group(2)


def _verify_command(body: str) -> str:
    return body.split("<pre data-verify-command>", 1)[1].split("</pre>", 1)[0]


def test_an_entry_page_checks_its_hash_and_signature(client, chain):
    scheduled_pool(chain)

    body = client.get(reverse("transparency-entry", args=[1])).content.decode()

    assert '<span class="ok">yes</span>' in body
    assert "(the attested log key)" in body


def test_the_downloaded_log_and_attestation_verify_offline(client, chain, tmp_path):
    scheduled_pool(chain)
    log_file, report_file = tmp_path / "log.jsonl", tmp_path / "attestation.json"

    log_file.write_bytes(b"".join(client.get(reverse("transparency-log")).streaming_content))
    report_file.write_bytes(client.get(reverse("transparency-attestation"), {"nonce": "my-own-nonce"}).content)

    for args in (
        ["verify-attestation", str(report_file), "--nonce", "my-own-nonce"],
        ["verify-log", str(log_file), "--attestation", str(report_file)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "enclave_signer", *args], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_page_says_so_when_the_signer_is_down(client, settings):
    settings.SIGNER_URL = "http://127.0.0.1:9"

    response = client.get(reverse("transparency"))

    assert response.status_code == 200
    assert "The signer did not answer" in response.content.decode()
    assert "Verify it offline" in response.content.decode()
