"""`python -m enclave_signer verify-pool` on the real stack: a native pool launched with an over-max deposit refunded,
checked from the chain, the signer's log and the site's public deposit list only."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from chain import contracts
from chain.artifacts import load_artifact
from chain.client import chain_deployment
from enclave_signer import verify
from enclave_signer.cli import main as cli_main
from enclave_signer.log import canonical_json
from pools.models import Launch, Pool, Refund
from pools.services.launch import launch_request
from pools.services.pools import pool_settle
from pools.signer import signer_client
from tests.indexer.support import ETHER, USDC, ChainDriver, fresh_address
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    CONFIRMATIONS,
    chain,
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    run_refunds,
    scheduled_pool,
)

AMOUNTS = [5 * ETHER, 5 * ETHER, 7 * ETHER]  # the last is 2 ETH over the 5 ETH maximum: owed back after the launch
TOKEN_GAS = 100_000


def deposit_tokens(driver: ChainDriver, pool: Pool, amounts: list[int], *, label: str) -> list[str]:
    """ERC-20 deposits: the test USDC minted to fresh senders, then transferred to the pool address in one block."""
    senders = [fresh_address(f"{label}-{i}") for i in range(len(amounts))]
    driver.fund(senders, wei=ETHER)
    token = driver.w3.eth.contract(address=chain_deployment().usdc, abi=load_artifact("TestUSDC").abi)
    deployer = driver.anvil.account(0).address
    mints = [
        {"from": deployer, "to": token.address, "data": token.encode_abi("mint", args=[s, a]), "gas": TOKEN_GAS}
        for s, a in zip(senders, amounts, strict=True)
    ]
    driver.block(mints)
    transfers = [
        {"from": s, "to": token.address, "data": token.encode_abi("transfer", args=[pool.deposit_address, a]),
         "gas": TOKEN_GAS}
        for s, a in zip(senders, amounts, strict=True)
    ]  # fmt: skip
    driver.block(transfers, timestamp=int((pool.opens_at + timedelta(minutes=1)).timestamp()))
    return senders


def launched_pool_with_a_refund(driver: ChainDriver) -> tuple[Pool, list[str]]:
    pool = scheduled_pool(driver)
    senders = deposit_from(driver, pool, AMOUNTS, at=pool.opens_at + timedelta(minutes=1), label="verified")
    index_until_confirmed(driver)
    pool = close_raise(driver, pool)
    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=driver)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    run_refunds(pool)
    assert Refund.objects.get(pool=pool).status == Refund.Status.PAID
    driver.mine(CONFIRMATIONS + 1)  # the refund is confirmed too
    return pool, senders


def export_log(path) -> None:
    """The signer's log, as `export-log` or the site's /transparency/log.jsonl gives it."""
    entries, after = [], -1
    while page := signer_client().log_entries(after=after, limit=1000)["entries"]:
        entries += page
        after = page[-1]["seq"]
    path.write_bytes(b"".join(canonical_json(entry) + b"\n" for entry in entries))


def run(pool: Pool, driver: ChainDriver, site: str, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    code = verify.verify_pool(pool.pk, rpc=driver.anvil.rpc_url, site=site, out=out, **kwargs)
    return code, out.getvalue()


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_a_launched_pool_with_a_refund_checks_out_to_the_wei(chain, live_server, tmp_path, monkeypatch):  # noqa: F811
    pool, senders = launched_pool_with_a_refund(chain)
    log = tmp_path / "signer-log.jsonl"
    export_log(log)
    monkeypatch.setattr(verify, "DEPOSIT_PAGE_SIZE", 2)  # the three deposits come in two pages

    code, output = run(pool, chain, live_server.url, log=log)

    assert code == 0, output
    lines = output.splitlines()
    assert lines[-1] == "✓ every wei accounted for"
    assert any(line.startswith("✓ the signer's log: ") and "an unbroken hash chain" in line for line in lines)
    assert f"✓ pool {pool.pk} registered at entry #" in output and pool.deposit_address in output
    for sender, amount in zip(senders, AMOUNTS, strict=True):
        assert any(line.startswith("✓ 0x") and f": {amount} from {sender} at block " in line for line in lines)
    assert any(line.startswith("✓ complete at block ") for line in lines)
    assert f"credited {15 * ETHER}, owed back {2 * ETHER}" in output
    assert any(line.startswith("✓ raiseAmount ") and "<= credited" in line for line in lines)
    assert any(line.startswith("✓ merkleRoot of the ClaimVault ") for line in lines)
    assert any(line.startswith("✓ depositorTokens ") for line in lines)
    assert any(line.startswith("✓ the logHead it anchored on chain is entry #") for line in lines)
    assert f"✓ {senders[2]}: owed {2 * ETHER}, refunded {2 * ETHER}" in output

    assert cli_main(["verify-pool", str(pool.pk), "--rpc", chain.anvil.rpc_url, "--site", live_server.url]) == 0


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_a_deposit_missing_from_the_list_or_an_edited_log_fails(chain, live_server, tmp_path, monkeypatch):  # noqa: F811
    pool, senders = launched_pool_with_a_refund(chain)
    log = tmp_path / "signer-log.jsonl"
    export_log(log)
    fetch_deposits = verify.fetch_deposits
    monkeypatch.setattr(verify, "fetch_deposits", lambda site, pool_id: fetch_deposits(site, pool_id)[1:])

    code, output = run(pool, chain, live_server.url, log=log)

    assert code == 1
    assert f"the address received {AMOUNTS[0]} more than the deposit list accounts for" in output
    assert output.splitlines()[-1].startswith("  - ") and "every wei accounted for" not in output

    monkeypatch.setattr(verify, "fetch_deposits", fetch_deposits)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    registered = next(e for e in entries if e["kind"] == "pool_registered" and e["payload"]["pool_id"] == str(pool.pk))
    registered["payload"]["params"]["max_contribution"] = str(7 * ETHER)  # no refund owed: an edited entry
    log.write_bytes(b"".join(canonical_json(entry) + b"\n" for entry in entries))

    code, output = run(pool, chain, live_server.url, log=log)

    assert code == 1
    assert f"✗ the signer's log does not verify: entry {registered['seq']}: content does not match its hash" in output


def test_an_unreachable_site_or_a_bad_url_is_exit_2_with_what_to_do(capsys, tmp_path):
    argv = ["verify-pool", "7", "--rpc", "http://127.0.0.1:9", "--site", "http://127.0.0.1:9"]

    assert cli_main(argv) == 2
    assert cli_main([*argv[:-1], "ftp://example.org"]) == 2
    assert cli_main([*argv, "--log", str(tmp_path / "missing.jsonl")]) == 2

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("verify-pool: ") for line in lines)
    assert "check --site" in lines[0] and "--site must be an http(s) URL" in lines[1]
    assert "no log file at" in lines[2]


def test_the_event_layouts_are_the_contracts():
    """The signer decodes the Launcher's and Refunder's events itself (no import of chain/): the same ABI."""
    assert verify.LAUNCH_RECORD_TYPE == contracts.LAUNCH_RECORD_TYPE
    assert "0x" + contracts.LAUNCHED_TOPIC.hex() == verify.LAUNCHED_TOPIC
    assert "0x" + contracts.REFUNDED_TOPIC.hex() == verify.REFUNDED_TOPIC


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_an_erc20_pool_launched_with_a_refund_checks_out(chain, live_server, tmp_path):  # noqa: F811
    fields = {"soft_cap": 10 * USDC, "hard_cap": 200 * USDC, "max_contribution": 5 * USDC}
    pool = scheduled_pool(
        chain, raise_asset=chain_deployment().usdc, raise_asset_symbol="USDC", raise_asset_decimals=6, **fields
    )
    senders = deposit_tokens(chain, pool, [5 * USDC, 4 * USDC, 7 * USDC], label="verified-usdc")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    launch_request(pool_id=pool.pk, requested_by="agent")
    assert run_launch(pool, chain=chain).step == Launch.Step.LAUNCHED
    run_refunds(pool)
    chain.mine(CONFIRMATIONS + 1)
    log = tmp_path / "signer-log.jsonl"
    export_log(log)

    code, output = run(pool, chain, live_server.url, log=log)

    assert code == 0, output
    assert output.splitlines()[-1] == "✓ every wei accounted for"
    assert f"✓ raiseAmount {14 * USDC} == credited {14 * USDC}" in output
    assert ": approve 0x" in output and ": launch 0x" in output and ": refundERC20 0x" in output
    assert f"✓ {senders[2]}: owed {2 * USDC}, refunded {2 * USDC}" in output


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_a_pool_that_missed_its_soft_cap_is_owed_back_in_full(chain, live_server, tmp_path):  # noqa: F811
    pool = scheduled_pool(chain, soft_cap=50 * ETHER)
    amounts = [ETHER, 2 * ETHER, 7 * ETHER]
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="hopeful-verified")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    assert pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain)).status == Pool.Status.REFUNDING
    run_refunds(pool)
    chain.mine(CONFIRMATIONS + 1)
    log = tmp_path / "signer-log.jsonl"
    export_log(log)

    code, output = run(pool, chain, live_server.url, log=log)

    assert code == 0, output
    assert "the pool is refunded in full (pool_refund_all at entry #" in output
    assert "not launched by block " in output
    for sender, amount in zip(senders, amounts, strict=True):
        assert f"✓ {sender}: owed {amount}, refunded {amount}" in output
    assert output.splitlines()[-1] == "✓ every wei accounted for"
