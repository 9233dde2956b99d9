"""The transparency page against the real signer process: attestation, log like an explorer, offline verification."""

import subprocess
import sys

import pytest
from django.urls import reverse

from chain.rpc import JsonRpc
from tests.anvil import PROJECT_ROOT
from tests.indexer.support import ChainDriver
from tests.launch.test_lifecycle import scheduled_pool

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db]


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
