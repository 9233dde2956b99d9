"""`manage.py create_api_key`: for an existing agent or one it creates (--create-agent), with default bounds."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from agent_api.models import AgentBounds
from pools.models import Agent
from tests.api.conftest import ETH, proposal, propose

pytestmark = pytest.mark.django_db

WALLET = to_checksum_address("0x" + "a9" * 20)


def create_api_key(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_an_unknown_agent_is_a_one_line_error_that_says_what_to_do():
    with pytest.raises(CommandError) as refused:
        create_api_key("--agent", "Nobody")

    assert "--create-agent" in str(refused.value) and "\n" not in str(refused.value)
    assert not Agent.objects.exists()


def test_create_agent_creates_it_with_a_key_that_works_and_default_bounds_let_it_propose():
    key, said = create_api_key("--agent", "Mind", "--create-agent", "--wallet", WALLET.lower(), "--default-bounds",
                               "--eth-hard-cap", "250")  # fmt: skip

    agent = Agent.objects.get(name="Mind")
    assert agent.wallet_address == WALLET and "Created the agent" in said
    bounds = AgentBounds.objects.get(agent=agent)
    assert [(a.address, a.max_hard_cap) for a in bounds.raise_assets.all()] == [("", 250 * ETH)]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(reverse("api-agent-pools")).status_code == 200
    assert propose(client, proposal()).status_code == 201


def test_an_existing_agent_and_its_bounds_are_left_as_they_are():
    create_api_key("--agent", "Mind", "--create-agent")
    AgentBounds.objects.create(agent=Agent.objects.get(name="Mind"), max_pools_in_draft=7)

    key, said = create_api_key("--agent", "Mind", "--create-agent", "--default-bounds")

    assert key.startswith("lp_") and "exists already" in said and "bounds already" in said
    assert Agent.objects.count() == 1 and AgentBounds.objects.get().max_pools_in_draft == 7


@pytest.mark.parametrize("args", [("--wallet", "0x12"), ("--default-bounds", "--eth-hard-cap", "-1"),
                                  ("--default-bounds", "--eth-hard-cap", "lots")])  # fmt: skip
def test_a_bad_wallet_or_hard_cap_creates_nothing(args):
    with pytest.raises(CommandError):
        create_api_key("--agent", "Mind", "--create-agent", *args)

    assert not Agent.objects.exists()
