"""Pool registration: idempotent, sealed and logged; frozen once the pool address has received anything."""

from __future__ import annotations

import pytest

from enclave_signer.service import RequestError
from tests.signer.conftest import PROJECT_ROOT
from tests.signer.factories import CHAIN_ID, ETHER, USDC, make_signer, pool_params, write_contracts_file

UNISWAP_ERC20 = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-core" / "build" / "ERC20.json"


def registration(pool_id: int = 1, **overrides) -> dict:
    return {"pool_id": str(pool_id), "chain_id": str(CHAIN_ID), "params": pool_params(**overrides)}


def kinds(signer) -> list[str]:
    return [entry["kind"] for entry in signer.log.entries(after=-1, limit=1000)]


def test_registration_returns_the_address_and_path_only_and_is_idempotent(data_dir):
    signer = make_signer(data_dir)
    first = signer.register_pool(registration())
    assert first.status == 201
    assert set(first.body) == {"pool_id", "chain_id", "address", "derivation_path", "created", "changed"}
    assert first.body["derivation_path"] == "pool/1"
    entries_after_first = len(kinds(signer))
    again = signer.register_pool(registration())
    assert (again.status, again.body["address"], again.body["created"]) == (200, first.body["address"], False)
    assert len(kinds(signer)) == entries_after_first, "an identical registration changes nothing"
    assert kinds(signer)[-2:] == ["key_created", "pool_registered"]


def test_registration_is_sealed_and_survives_a_restart(data_dir):
    address = make_signer(data_dir).register_pool(registration(9)).body["address"]
    reopened = make_signer(data_dir)
    assert reopened.addresses()["pools"]["9"]["address"] == address
    assert b"Agent Token" not in (data_dir / "store.sealed").read_bytes()


def test_different_pools_get_different_keys(data_dir):
    signer = make_signer(data_dir)
    assert (
        signer.register_pool(registration(1)).body["address"] != signer.register_pool(registration(2)).body["address"]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"soft_cap": 11 * ETHER}, "soft_cap"),
        ({"fee_bps": 10_001}, "fee_bps"),
        ({"liquidity_supply_bps": 9000, "depositor_supply_bps": 2000}, "exceed"),
        ({"treasury": "0x0000000000000000000000000000000000000000"}, "treasury"),
        ({"hard_cap": 1.5}, "hard_cap"),
        ({"hard_cap": "-5"}, "hard_cap"),
        ({"protection_blocks": 301}, "protection_blocks"),
        ({"unexpected": "1"}, "unknown"),
    ],
)
def test_malformed_parameters_are_refused(data_dir, change, message):
    signer = make_signer(data_dir)
    body = registration()
    body["params"].update(change)
    with pytest.raises(RequestError, match=message) as refused:
        signer.register_pool(body)
    assert refused.value.status == 400


def test_unlisted_raise_asset_and_other_chain_are_refused(data_dir, tmp_path):
    signer = make_signer(
        data_dir, SIGNER_CONTRACTS_FILE=str(write_contracts_file(tmp_path / "c.json", raise_assets=()))
    )
    with pytest.raises(RequestError, match="allowlisted"):
        signer.register_pool(registration(raise_asset=USDC))
    with pytest.raises(RequestError, match="chain"):
        signer.register_pool({**registration(), "chain_id": "1"})


def test_params_change_while_the_address_is_untouched(data_dir):
    signer = make_signer(data_dir)
    address = signer.register_pool(registration()).body["address"]
    changed = signer.register_pool(registration(symbol="NEW"))
    assert (changed.status, changed.body["changed"], changed.body["address"]) == (200, True, address)
    assert kinds(signer)[-1] == "pool_params_changed"


@pytest.mark.chain
def test_params_are_frozen_once_the_pool_received_native_funds(anvil_chain, data_dir):
    signer = make_signer(data_dir, chain=anvil_chain.reader)
    address = signer.register_pool(registration()).body["address"]
    anvil_chain.transact({"from": anvil_chain.account(1), "to": address, "value": 1})
    refused = signer.register_pool(registration(treasury="0x000000000000000000000000000000000000dEaD"))
    assert (refused.status, refused.body["code"]) == (409, "pool_frozen")
    assert kinds(signer)[-1] == "registration_refused"
    assert signer.register_pool(registration()).status == 200, "re-registering the same params still answers"


@pytest.mark.chain
def test_params_are_frozen_once_the_pool_holds_the_raise_token(anvil_chain, data_dir, tmp_path):
    token, _ = anvil_chain.deploy_artifact(UNISWAP_ERC20, args=(10**24,))
    contracts = write_contracts_file(tmp_path / "c.json", raise_assets=(token,))
    signer = make_signer(data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(contracts))
    params = {"raise_asset": token, "soft_cap": 1, "hard_cap": 10**20}
    address = signer.register_pool(registration(**params)).body["address"]
    erc20 = anvil_chain.w3.eth.contract(
        address=token,
        abi=[
            {
                "name": "transfer",
                "type": "function",
                "stateMutability": "nonpayable",
                "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
                "outputs": [{"name": "", "type": "bool"}],
            }
        ],
    )
    anvil_chain.transact(erc20.functions.transfer(address, 5).build_transaction({"from": anvil_chain.account(0)}))
    refused = signer.register_pool(registration(**params, symbol="CHANGED"))
    assert (refused.status, refused.body["code"]) == (409, "pool_frozen")
