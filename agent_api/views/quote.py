"""Quotes: what a launch would give at the soft cap, the hard cap and the current raise, from DRAFT on.

A quote is a read (the default agent rate, not the trigger rate): nothing is saved or sent. The figures are the admin's
launch preview, and for a CLOSED pool the current scenario is the dry run's to the unit (pools/selectors/quote.py).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.parsers import ProposalJSONParser
from agent_api.schema import error_responses
from agent_api.serializers import WeiAmount
from agent_api.services.proposals import proposal_judged
from agent_api.views.agent import AgentPoolProposeApi
from agent_api.views.params import StrictQueryParams
from pools.selectors.pools import pool_get_for_agent
from pools.selectors.quote import RaiseAmountBasis, pool_quote


@extend_schema_field({"type": "string", "pattern": "^-?[0-9]+$", "example": "250000000000"})
class SignedInteger(serializers.Field):
    """An integer that may be negative (a price feed's int256 answer), as a decimal string."""

    def to_representation(self, value: int) -> str:
        return str(int(value))


def _amount(help_text: str) -> WeiAmount:
    return WeiAmount(help_text=help_text)


def _maybe(help_text: str) -> WeiAmount:
    return WeiAmount(allow_null=True, help_text=help_text)


@extend_schema_serializer(component_name="QuoteScenario")
class QuoteScenarioSerializer(serializers.Serializer):
    raise_amount = _amount("The raise the launch brings, in the raise asset's smallest unit.")
    liquidity_funds = _amount("The part of the raise paired in the Uniswap V2 pool.")
    fee = _amount("The platform fee.")
    treasury = _amount("What the treasury receives: the rest of the raise.")
    liquidity_tokens = _maybe("Token units paired in the pool; null for a USD-target pool without the oracle's answer.")
    burned_tokens = _maybe("Token units of the liquidity share the USD target leaves unused, burned at launch.")
    depositor_tokens = _amount("Token units for all depositors together (the claim vault).")
    agent_tokens = _amount("Token units for the agent (its vesting wallet).")
    price_in_asset = _maybe("Launch price of one whole token, in the raise asset's smallest unit; null without one.")
    price_usd_e8 = _maybe("Launch price of one whole token in USD, 8 decimals; null without the oracle's answer.")
    market_cap_in_asset = _maybe(
        "Price × tokens circulating at launch (the pair's, and the depositors' when they vest nothing), in the "
        "raise asset's smallest unit."
    )
    market_cap_usd_e8 = _maybe("The market cap in USD, 8 decimals.")
    fdv_in_asset = _maybe("Price × (total supply − burned), in the raise asset's smallest unit.")
    fdv_usd_e8 = _maybe("The fully diluted value in USD, 8 decimals.")
    tokens_per_unit_deposited = _maybe(
        "Token units a depositor gets per whole unit of the raise asset credited (1 ETH, 1 USDC): the depositors' "
        "tokens pro rata, floored as the launch allocates them (a depositor may get one unit more from the "
        "remainders). Null when nothing is credited."
    )


@extend_schema_serializer(component_name="PoolQuote")
class QuoteSerializer(serializers.Serializer):
    token_address = serializers.CharField(
        allow_null=True, help_text="The token's address (predicted before the launch); null while not known."
    )
    pair_address = serializers.CharField(
        allow_null=True, help_text="Its Uniswap V2 pair with the raise asset (WETH for ETH); null while not known."
    )
    addresses_note = serializers.CharField(help_text="Where the addresses come from, or why they are not known yet.")
    soft_cap = QuoteScenarioSerializer(help_text="The launch if the raise ends at the soft cap.")
    hard_cap = QuoteScenarioSerializer(help_text="The launch if the raise reaches the hard cap.")
    current = QuoteScenarioSerializer(help_text="The launch with the raise as it is now (see raise_amount_basis).")
    raise_amount_basis = serializers.ChoiceField(
        choices=RaiseAmountBasis.ALL,
        help_text="What `current.raise_amount` is: `credited` (an ERC-20 raise: the launch brings all of it); "
        "`credited_less_gas` (an ETH raise, as the dry run reckons it: the credited raise, at most the address's "
        "balance beyond what it owes back, less the launch's gas budget at the current fees); "
        "`credited_gas_unknown` (an ETH raise whose launch gas is not reckoned: not scheduled yet, no launch to come, "
        "or the chain could not be read); `launch` (the launch transaction's own amount).",
    )
    raise_amount_note = serializers.CharField(help_text="The same, in a sentence, with the reason when degraded.")
    oracle_answer = SignedInteger(
        allow_null=True,
        help_text="The price feed's answer used for every scenario (USD per whole raise-asset unit, 8 decimals, "
        "int256); null when it could not be read.",
    )
    oracle_error = serializers.CharField(help_text="Why the oracle could not be read; empty when it was.")


QUOTE_DESCRIPTION = (
    " Soft cap, hard cap and current raise side by side: tokens to the pool, to depositors and to the agent, the "
    "launch price in the asset and in USD, market cap, FDV and tokens per unit deposited. The same figures as the "
    "admin's launch preview; for a CLOSED pool the current scenario equals the dry run's. A chain that cannot be "
    "read leaves the figures that need it null (see oracle_error and raise_amount_note), it does not fail the quote."
)


class AgentPoolQuoteApi(StrictQueryParams, APIView):
    """Quote one of your pools, in any status: what its launch would give, and its token's and pair's addresses."""

    @extend_schema(
        operation_id="agent_pools_quote",
        request=None,
        responses={200: QuoteSerializer, **error_responses(401, 404, 429)},
        description="One of your pools, in any status from DRAFT on; the addresses once it is scheduled."
        + QUOTE_DESCRIPTION,
    )
    def post(self, request, pool_id: int):
        """What your pool's launch would give at the soft cap, the hard cap and the current raise."""
        pool = pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)
        return Response(QuoteSerializer(pool_quote(pool=pool)).data)


class AgentProposalQuoteApi(StrictQueryParams, APIView):
    """Quote a proposal before sending it: judged exactly as `POST /agent/pools/` would, and saved nowhere."""

    parser_classes = [ProposalJSONParser]

    @extend_schema(
        operation_id="agent_pools_quote_proposal",
        request=AgentPoolProposeApi.InputSerializer,
        responses={200: QuoteSerializer, **error_responses(400, 401, 403, 429)},
        description="The body of a proposal (`POST /api/v1/agent/pools/`), judged with the same rules and your "
        "bounds: a proposal with problems answers the same 400. Nothing is saved, so the addresses are null."
        + QUOTE_DESCRIPTION,
    )
    def post(self, request):
        """What a proposal's launch would give at the soft cap, the hard cap and the current raise (nothing)."""
        values, unparsed = AgentPoolProposeApi.InputSerializer(data=request.data).parse_each_field()
        pool = proposal_judged(agent=request.user.agent, data=values, unparsed=unparsed)
        return Response(QuoteSerializer(pool_quote(pool=pool)).data)
