"""Celery tasks are interfaces: take an id, load the row, call a service."""

from celery import shared_task

from pools.services.health import record_beat_heartbeat

# A launch waiting on fees or on the signer's configuration is asked about again this often, not every 2 s.
LAUNCH_WAITING_RETRY_SECONDS = 30


@shared_task(acks_late=False)
def ping() -> str:
    """The health check's round trip through the broker, a worker and the result backend."""
    return "pong"


@shared_task(acks_late=False)
def beat_heartbeat() -> None:
    """Scheduled by beat; its timestamp shows beat and a worker are alive."""
    record_beat_heartbeat()


@shared_task(acks_late=True, expires=30)
def index_chain_task(chain_id: int | None = None) -> dict:
    """Scheduled every few seconds: index deposits on a chain (CHAIN_ID by default). Overlapping runs skip."""
    from django.conf import settings

    from pools.services.indexing import index_chain

    report = index_chain(chain_id=chain_id if chain_id is not None else settings.CHAIN_ID)
    return {
        "chain_id": report.chain_id,
        "last_block": report.last_block,
        "head": report.head,
        "deposits_new": report.deposits_new,
        "confirmed": report.confirmed,
        "reorgs": report.reorgs,
        "skipped": report.skipped,
    }


# No result stored: nobody reads it, and sending a task with a result subscribes to the result backend, which
# with Redis down blocks the sender (an API request) for ~20 s before it fails.
@shared_task(bind=True, max_retries=None, ignore_result=True)
def advance_launch(self, pool_id: int) -> str:
    """Advance a launch by as many steps as it can take now; re-queue itself until it is launched or failed."""
    from pools.services.launch import launch_advance

    launch = launch_advance(pool_id=pool_id)
    if launch is not None and launch.step not in ("launched", "failed"):
        raise self.retry(countdown=LAUNCH_WAITING_RETRY_SECONDS if launch.waiting else 2)
    return launch.step if launch else "busy"


@shared_task(bind=True, max_retries=None, ignore_result=True)
def advance_refunds(self, pool_id: int) -> str:
    """Send and confirm a pool's refund batches; re-queue itself until every refund is paid."""
    from pools.services.refunds import refunds_advance

    remaining = refunds_advance(pool_id=pool_id)
    if remaining:
        raise self.retry(countdown=2)
    return "paid"


@shared_task(acks_late=False)
def resume_jobs() -> dict:
    """Re-enqueue every unfinished launch, and refund what is owed for pools whose refunds are due."""
    from pools.models import Launch, Pool, Refund
    from pools.services.refunds import REFUNDABLE_STATUSES, UNSETTLED, refund_request

    launches = list(Launch.objects.exclude(step__in=["launched", "failed"]).values_list("pool_id", flat=True))
    for pool_id in launches:
        advance_launch.delay(pool_id)
    refunding = set(Refund.objects.filter(status__in=UNSETTLED).values_list("pool_id", flat=True))
    for pool_id in Pool.objects.filter(status__in=REFUNDABLE_STATUSES).values_list("pk", flat=True):
        refund_request(pool_id=pool_id, requested_by="resume_jobs")
    for pool_id in refunding:
        advance_refunds.delay(pool_id)
    return {"launches": len(launches), "refunding": len(refunding)}


@shared_task(acks_late=False)
def pools_on_time() -> dict:
    """Open scheduled pools whose time has come, close open ones whose time is up, settle closed ones."""
    from pools.models import Pool
    from pools.services.launch import confirmed_through
    from pools.services.pools import pool_settle, pools_close_due, pools_open_due

    opened, closed = pools_open_due(), pools_close_due()
    settled = 0
    for pool in Pool.objects.filter(status=Pool.Status.CLOSED).only("pk", "chain_id", "confirmations"):
        through = confirmed_through(chain_id=pool.chain_id, confirmations=pool.confirmations)
        if through is not None and pool_settle(pool_id=pool.pk, confirmed_through=through).status != Pool.Status.CLOSED:
            settled += 1
    return {"opened": opened, "closed": closed, "settled": settled}


@shared_task(acks_late=False)
def refresh_dev_price_feeds() -> str:
    """Local development chain only: keep the development price feeds fresh (Chainlink's heartbeat does elsewhere)."""
    from chain.client import chain_deployment, web3_client
    from chain.devnet import LOCAL_CHAIN_IDS
    from chain.devnet import refresh_dev_price_feeds as refresh

    w3 = web3_client()
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS:
        return "not a local chain"
    refresh(w3, chain_deployment(), deployer=w3.eth.accounts[0])
    return "refreshed"
