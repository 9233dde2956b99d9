"""Input parsing: integers (decimal or 0x strings, never floats), addresses, and a pool's registered parameters."""

from __future__ import annotations

from eth_utils import is_hex_address, to_checksum_address

from enclave_signer.crediting import ACCESS_MODES, CreditRules

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BPS_DENOMINATOR = 10_000
MAX_PROTECTION_BLOCKS = 300
MAX_TOKEN_TEXT_LENGTH = 64
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

# Every registrable parameter and its type; amounts travel as decimal strings.
POOL_PARAM_TYPES = {
    "raise_asset": "address",
    "soft_cap": "uint256",
    "hard_cap": "uint256",
    "liquidity_supply_bps": "bps",
    "depositor_supply_bps": "bps",
    "liquidity_raise_bps": "bps",
    "fee_bps": "bps",
    "fee_recipient": "address",
    "treasury": "address",
    "agent": "address",
    "agent_cliff": "uint64",
    "agent_duration": "uint64",
    "depositor_cliff": "uint64",
    "depositor_duration": "uint64",
    "lp_lock_until": "uint64",
    "protection_blocks": "uint32",
    "max_buy_per_tx": "uint256",
    "price_feed": "address",
    "tolerance_bps_max": "bps",
    "max_oracle_age": "uint32",
    "target_price_usd": "uint256",
    "total_supply": "uint256",
    "name": "string",
    "symbol": "string",
    "max_value_wei": "uint256",
    # The crediting rules' inputs (enclave_signer/crediting.py): times in unix seconds, 0 = not set.
    "opens_at": "uint64",
    "closes_at": "uint64",
    "access": "access",
    "whitelist_until": "uint64",
    "whitelist": "addresses",
    "min_contribution": "uint256",
    "max_contribution": "uint256",
    "confirmations": "uint16",
}
MAX_WHITELIST = 20_000
# Parameters an early close may change after registration froze: the close, only ever earlier.
EARLY_CLOSE_PARAMS = frozenset({"closes_at"})


class InvalidInput(ValueError):
    """A request field is malformed; the message names the field."""


def parse_uint(value: object, *, field: str, bits: int = 256) -> int:
    """An unsigned integer from an int or a decimal/0x string; floats and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{field}: expected an integer as a decimal or 0x string, got {type(value).__name__}")
    if isinstance(value, int):
        number = value
    elif value[:2].lower() == "0x" and len(value) > 2 and all(char in HEX_DIGITS for char in value[2:]):
        number = int(value[2:], 16)
    elif value.isascii() and value.isdigit():
        number = int(value, 10)
    else:
        raise InvalidInput(f"{field}: {value!r} is not a decimal or 0x integer")
    if not 0 <= number < 2**bits:
        raise InvalidInput(f"{field}: {number} is outside uint{bits}")
    return number


def parse_address(value: object, *, field: str) -> str:
    """A checksum address from any-case hex."""
    if not isinstance(value, str) or not is_hex_address(value):
        raise InvalidInput(f"{field}: {value!r} is not an address")
    return to_checksum_address(value)


def normalize_pool_params(raw: object) -> dict:
    """Validate a pool's parameters and return them canonically (checksum addresses, decimal-string integers)."""
    if not isinstance(raw, dict):
        raise InvalidInput("params: expected an object")
    missing = sorted(set(POOL_PARAM_TYPES) - set(raw))
    unknown = sorted(set(raw) - set(POOL_PARAM_TYPES))
    if missing or unknown:
        raise InvalidInput(f"params: missing {missing}, unknown {unknown}")
    params: dict = {}
    for name, kind in POOL_PARAM_TYPES.items():
        value = raw[name]
        if kind == "access":
            if value not in ACCESS_MODES:
                raise InvalidInput(f"{name}: expected one of {list(ACCESS_MODES)}")
            params[name] = value
        elif kind == "addresses":
            if not isinstance(value, list) or len(value) > MAX_WHITELIST:
                raise InvalidInput(f"{name}: expected a list of at most {MAX_WHITELIST} addresses")
            params[name] = sorted({parse_address(item, field=name) for item in value}, key=str.lower)
        elif kind == "address":
            params[name] = parse_address(value, field=name)
        elif kind == "string":
            if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN_TEXT_LENGTH:
                raise InvalidInput(f"{name}: expected 1..{MAX_TOKEN_TEXT_LENGTH} characters")
            params[name] = value
        else:
            bits = 16 if kind == "bps" else int(kind.removeprefix("uint"))
            number = parse_uint(value, field=name, bits=bits)
            if kind == "bps" and number > BPS_DENOMINATOR:
                raise InvalidInput(f"{name}: {number} is more than {BPS_DENOMINATOR} bps")
            params[name] = str(number)
    _check_consistency(params)
    return params


def _check_consistency(params: dict[str, str]) -> None:
    number = {name: int(value) for name, value in params.items() if POOL_PARAM_TYPES[name].startswith(("uint", "bps"))}
    if not 0 < number["soft_cap"] <= number["hard_cap"]:
        raise InvalidInput("soft_cap and hard_cap: need 0 < soft_cap <= hard_cap")
    if number["liquidity_supply_bps"] + number["depositor_supply_bps"] > BPS_DENOMINATOR:
        raise InvalidInput("liquidity_supply_bps + depositor_supply_bps exceed 10000")
    if number["liquidity_raise_bps"] + number["fee_bps"] > BPS_DENOMINATOR:
        raise InvalidInput("liquidity_raise_bps + fee_bps exceed 10000")
    if not number["confirmations"]:
        raise InvalidInput("confirmations: at least 1")
    if number["max_contribution"] and number["max_contribution"] < number["min_contribution"]:
        raise InvalidInput("max_contribution: below min_contribution")
    if number["closes_at"] and number["closes_at"] <= number["opens_at"]:
        raise InvalidInput("closes_at: must be after opens_at")
    if number["protection_blocks"] > MAX_PROTECTION_BLOCKS:
        raise InvalidInput(f"protection_blocks: at most {MAX_PROTECTION_BLOCKS}")
    # The same conditions the Launcher enforces: a pool that could never launch is refused at registration.
    required = ["treasury", "price_feed"]
    required += ["fee_recipient"] if number["fee_bps"] else []
    required += ["agent"] if number["liquidity_supply_bps"] + number["depositor_supply_bps"] < BPS_DENOMINATOR else []
    for name in required:
        if params[name] == ZERO_ADDRESS:
            raise InvalidInput(f"{name}: must not be the zero address")


def credit_rules(params: dict) -> CreditRules:
    """The crediting rules of a registered pool."""
    return CreditRules(
        opens_at=int(params["opens_at"]),
        closes_at=int(params["closes_at"]),
        access=params["access"],
        whitelist_until=int(params["whitelist_until"]),
        whitelist=frozenset(address.lower() for address in params["whitelist"]),
        min_contribution=int(params["min_contribution"]),
        max_contribution=int(params["max_contribution"]),
        hard_cap=int(params["hard_cap"]),
    )
