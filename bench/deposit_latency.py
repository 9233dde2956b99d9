"""Seconds from the wallet's send to "Credited" on the pool page, for a deposit made in the browser.

The stack as `make run` runs it, on one machine: anvil mining a block every 2 s (`evm_setIntervalMining`), the real
contracts and signer, the website (Django's threaded WSGI server, static files included), and the indexer called
every 3 s as beat does. A pool needing 1 confirmation is open; Debian's Chromium opens its page with the test wallet
(tests/browser/conftest.py: an EIP-1193 provider sending from an unlocked anvil account) and, DEPOSITS times, types
an amount and presses "Deposit with wallet". The page itself records when `eth_sendTransaction` returned (the
wallet sent) and when its status line first said "Credited"; the figure is the difference: mining, the confirmation
block, the indexer's next pass and the page's next poll of the deposit status.

    .venv/bin/python scripts/devstack.py bench bench/deposit_latency.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")
os.environ["CHAIN_CHECK_ON_START"] = "false"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from figures import publish  # noqa: E402 - bench/figures.py, next to this script
from playwright.sync_api import sync_playwright  # noqa: E402

from chain.devnet import deploy_dev_fixtures  # noqa: E402
from pools.models import Agent, IndexerCursor, Pool  # noqa: E402
from pools.services.indexing import index_chain  # noqa: E402
from pools.services.pools import pool_schedule, pools_open_due  # noqa: E402
from tests.anvil import start_anvil  # noqa: E402
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, inject_wallet  # noqa: E402
from tests.processes import start_signer  # noqa: E402

ETHER = 10**18
DEPOSITS = 5
AMOUNT = "0.2"  # ETH, each
BLOCK_SECONDS = 2  # `make run`'s chain
INDEX_EVERY_SECONDS = 3  # beat's schedule for the indexer
CONFIRMATIONS = 1
WALLET_ACCOUNT = 7
CREDITED_WITHIN_SECONDS = 120

# Wraps the test wallet: the moment eth_sendTransaction returned, and the moment the status line said "Credited".
TIMING_SCRIPT = """
(() => {
  window.__latency = { sent: null, credited: null };
  const wallet = window.ethereum;
  const request = wallet.request.bind(wallet);
  wallet.request = async (args) => {
    const answer = await request(args);
    if (args.method === "eth_sendTransaction") window.__latency = { sent: performance.now(), credited: null };
    return answer;
  };
  new MutationObserver(() => {
    const line = document.getElementById("deposit-tx-status");
    const latency = window.__latency;
    if (line && latency.sent !== null && latency.credited === null && line.textContent.startsWith("Credited")) {
      latency.credited = performance.now();
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""


def address(label: str) -> str:
    return to_checksum_address(keccak(text=f"bench-deposit-latency-{label}")[12:])


def chain_now(anvil) -> datetime:
    return datetime.fromtimestamp(anvil.w3.eth.get_block("latest")["timestamp"], tz=UTC)


def open_pool(anvil) -> Pool:
    """A pool needing one confirmation, scheduled with the signer and open by both clocks a few seconds later."""
    agent = Agent.objects.create(name="bench agent", wallet_address=address("agent"))
    opens = max(timezone.now(), chain_now(anvil)) + timedelta(seconds=3)
    pool = Pool.objects.create(
        agent=agent, name="Latency pool", token_name="Latency", token_symbol="LAT", soft_cap=ETHER,
        hard_cap=100 * ETHER, opens_at=opens, closes_at=opens + timedelta(days=1), confirmations=CONFIRMATIONS,
        fee_recipient=address("fee"), treasury_address=address("treasury"), chain_id=anvil.w3.eth.chain_id,
    )  # fmt: skip
    pool_schedule(pool_id=pool.pk)
    while min(timezone.now(), chain_now(anvil)) <= opens:
        time.sleep(0.5)
    pools_open_due(now=timezone.now())
    return Pool.objects.get(pk=pool.pk)


class Indexer(threading.Thread):
    """What beat does for the indexer: one pass every INDEX_EVERY_SECONDS."""

    def __init__(self, chain_id: int) -> None:
        super().__init__(daemon=True)
        self.chain_id = chain_id
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(INDEX_EVERY_SECONDS):
                index_chain(chain_id=self.chain_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve_website() -> tuple[ThreadedWSGIServer, str]:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.daemon_threads = True
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def deposit_once(page) -> float:
    """One deposit through the page; seconds from the wallet's send to "Credited" on it."""
    page.get_by_label("Amount in ETH").fill(AMOUNT)
    page.get_by_role("button", name="Deposit with wallet").click()
    deadline = time.monotonic() + CREDITED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        latency = page.evaluate("window.__latency")
        if latency["credited"] is not None:
            page.wait_for_function("!document.querySelector('[data-wallet-deposit]').disabled")
            return (latency["credited"] - latency["sent"]) / 1000
        page.wait_for_timeout(100)
    status = page.locator("#deposit-tx-status").text_content()
    raise RuntimeError(f"not credited within {CREDITED_WITHIN_SECONDS} s; the page says: {status!r}")


def main() -> None:
    anvil = start_anvil()
    work = Path(tempfile.mkdtemp(prefix="bench-deposit-latency-"))
    signer = indexer = server = None
    try:
        deployment = deploy_dev_fixtures(anvil.w3, deployer=anvil.account(0).address)
        deployment.write(work / "deployment.json")
        (work / "signer-contracts.json").write_text(deployment.signer_contracts_json())
        chain_id = anvil.w3.eth.chain_id
        signer = start_signer(
            rpc_url=anvil.rpc_url, chain_id=chain_id, data_dir=work / "signer",
            contracts_file=work / "signer-contracts.json",
        )  # fmt: skip
        settings.CHAIN_RPC_URL, settings.CHAIN_ID = anvil.rpc_url, chain_id
        settings.CHAIN_DEPLOYMENT_FILE = work / "deployment.json"
        settings.SIGNER_URL, settings.SIGNER_CLIENT_KEY = signer.url, signer.client_key
        anvil.rpc("evm_setIntervalMining", [BLOCK_SECONDS])
        head = anvil.w3.eth.block_number
        IndexerCursor.objects.create(chain_id=chain_id, last_block=head, first_block=head + 1, head=head)
        pool = open_pool(anvil)
        indexer = Indexer(chain_id)
        indexer.start()
        server, url = serve_website()
        seconds = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            inject_wallet(page, account=anvil.account(WALLET_ACCOUNT), anvil=anvil)
            page.add_init_script(TIMING_SCRIPT)
            page.goto(f"{url}/pools/{pool.pk}/")
            for n in range(1, DEPOSITS + 1):
                seconds.append(deposit_once(page))
                print(
                    f"  deposit {n}: {seconds[-1]:.2f} s from the wallet's send to 'Credited' on the page", flush=True
                )
            browser.close()
        median, slowest = statistics.median(seconds), max(seconds)
        print(f"\nsend → credited on the page: median {median:.1f} s, max {slowest:.1f} s over {DEPOSITS} deposits")
        publish(
            bench="deposit_latency",
            what=f"wallet send → 'Credited' on the page, {CONFIRMATIONS} confirmation",
            figure=f"{median:.1f} s median",
            detail=f"max {slowest:.1f} s over {DEPOSITS} deposits; a block every {BLOCK_SECONDS} s, the indexer every "
            f"{INDEX_EVERY_SECONDS} s, the page polling the deposit's status every 1.5 s",
        )
    finally:
        if server:
            server.shutdown()
        if indexer:
            indexer.stop()
        if signer:
            signer.stop()
        anvil.stop()


if __name__ == "__main__":
    main()
