"""An example agent: propose a pool, watch its events, quote it as the raise goes, launch it once it closed with its
soft cap met (or ask for the refunds when it missed), then read the depositors' claims.

    export LAUNCHPAD=http://127.0.0.1:8000 LAUNCHPAD_KEY=lp_...
    .venv/bin/python sdk/examples/agent.py --treasury 0xYourTreasury      # propose, then follow it
    .venv/bin/python sdk/examples/agent.py --pool 42                      # follow a pool you already have

An admin schedules the proposal in the admin (/admin/, Pools → select → "Schedule"); until then the agent waits.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta

from launchpad_sdk import ConflictError, Launchpad, LaunchpadError, amount

ETHER = 10**18
DONE = {"launched", "refunded", "cancelled"}


def eth(value: str | int | None) -> str:
    """An amount in wei, for people (the API's figures stay integers; this is only for printing)."""
    if value is None:
        return "?"
    whole, part = divmod(amount(value), ETHER)
    return f"{whole}.{part:018d}".rstrip("0").rstrip(".") + " ETH"


def propose(lp: Launchpad, *, treasury: str) -> int:
    bounds = lp.bounds()
    print("my bounds: assets", [a["symbol"] for a in bounds["raise_assets"]], "defaults", bounds["defaults"])
    opens = datetime.now(tz=UTC) + timedelta(minutes=5)
    proposal = {
        "name": "Example Mind",
        "token_name": "Example Mind",
        "token_symbol": "EXMIND",
        "soft_cap": 10 * ETHER,  # ints are sent as the API's decimal strings
        "hard_cap": 100 * ETHER,
        "opens_at": opens,
        "closes_at": opens + timedelta(days=1),
        "treasury_address": treasury,
        "fee_bps": 100,
        "agent_supply_bps": 1_000,
        "agent_cliff_seconds": 30 * 86_400,
        "agent_vesting_seconds": 180 * 86_400,
    }
    quote = lp.quote_proposal(proposal)  # before saving anything: what would the launch give?
    print("at the soft cap the token would start at", quote["soft_cap"]["price_usd_e8"], "USD e8;",
          "tokens per ETH deposited:", quote["soft_cap"]["tokens_per_unit_deposited"])  # fmt: skip
    pool = lp.propose(proposal)  # retried safely: the SDK sends one Idempotency-Key for all attempts
    print(f"proposed pool {pool['id']} ({pool['status']}): ask an admin to schedule it")
    return pool["id"]


def show_quote(lp: Launchpad, pool_id: int) -> None:
    quote = lp.quote(pool_id)
    now = quote["current"]
    print(f"  quote: token {quote['token_address']}, raise now {eth(now['raise_amount'])}, "
          f"price {now['price_usd_e8']} USD e8, market cap {now['market_cap_usd_e8']} USD e8")  # fmt: skip


def watch(lp: Launchpad, pool_id: int) -> None:
    """Follow the pool's events until it closes (or ends otherwise); the SDK reconnects with Last-Event-ID."""
    if lp.pool(pool_id)["status"] in DONE | {"closed", "refunding"}:
        return
    for event in lp.events(last_event_id=0):  # 0: from the first event, so nothing before now is missed
        if event.pool_id != pool_id:
            continue
        print(f"event {event.id}: {event.event} {event.data}")
        if event.event in ("pool.scheduled", "pool.opened", "deposit.credited"):
            show_quote(lp, pool_id)
        if event.event in ("pool.closed", "pool.cancelled", "pool.refunding"):
            return


def finish(lp: Launchpad, pool_id: int) -> None:
    pool = lp.pool(pool_id)
    if pool["status"] == "closed" and amount(pool["raised"]) >= amount(pool["soft_cap"]):
        dry = lp.dry_run(pool_id)
        print(f"dry run: would succeed {dry['would_succeed']}, token {dry['token_address']}, gas {dry['gas']}")
        try:
            lp.launch(pool_id)
        except ConflictError as exc:  # e.g. deposits still confirming: the message says why
            print("cannot launch yet:", exc.message)
            return
        launch = lp.wait_for_launch(pool_id)
        print(f"launch {launch['step']}: token {launch['token_address']}, pair {launch['pair_address']}")
    elif pool["status"] in ("closed", "refunding", "cancelled"):
        try:
            accepted = lp.request_refunds(pool_id)
            print(f"refunds asked for: {accepted['refund_count']} of {eth(accepted['refund_amount'])}")
        except ConflictError as exc:
            print("no refunds to ask for:", exc.message)
    for allocation in lp.allocations(pool_id) if lp.pool(pool_id)["status"] == "launched" else []:
        claim = lp.claim(pool_id, allocation["address"])
        print(f"  {claim['address']} can claim {claim['claimable_now']} of {claim['allocation']} token units: "
              f"send to {claim['to']} data {claim['calldata'][:18]}…")  # fmt: skip
    refunds = lp.pool(pool_id)["refunds"]
    print(f"refunds: owed {eth(refunds['owed'])}, paid {eth(refunds['paid'])}, still owed {eth(refunds['still_owed'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description="An example agent on the launchpad SDK.")
    parser.add_argument("--pool", type=int, help="follow this pool of yours instead of proposing one")
    parser.add_argument("--treasury", help="the treasury address of a new proposal")
    args = parser.parse_args()
    if args.pool is None and not args.treasury:
        parser.error("give --treasury (to propose) or --pool")
    base_url = os.environ.get("LAUNCHPAD", "http://127.0.0.1:8000")
    with Launchpad(base_url, api_key=os.environ["LAUNCHPAD_KEY"]) as lp:
        try:
            pool_id = args.pool if args.pool is not None else propose(lp, treasury=args.treasury)
            watch(lp, pool_id)
            finish(lp, pool_id)
        except LaunchpadError as exc:
            print(f"{exc.status} {exc.code}: {exc.message} {exc.details or ''} (request {exc.request_id})")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
