"""Compiled contract artifacts (ABI and bytecode), ours from build/contracts, Uniswap V2 from its npm packages.

Nothing here is committed bytecode: our contracts are compiled by `make contracts` (solc-js), and the Uniswap V2
factory, pair, router and WETH9 come from the installed `@uniswap/v2-core` / `@uniswap/v2-periphery` packages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = PROJECT_ROOT / "build" / "contracts"
NODE_MODULES = PROJECT_ROOT / "node_modules"

# Third-party artifacts, by the name the app uses, to their file inside node_modules.
THIRD_PARTY_ARTIFACTS = {
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "IERC20": "@uniswap/v2-core/build/IERC20.json",
}


class ArtifactMissing(LookupError):
    """A contract artifact is not built or not installed."""


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str  # 0x-prefixed creation code

    @property
    def deployable(self) -> bool:
        return len(self.bytecode) > 2


def _hex(code: str) -> str:
    return code if code.startswith("0x") else "0x" + code


@cache
def load_artifact(name: str) -> Artifact:
    """Load a contract's ABI and creation bytecode by contract name."""
    if name in THIRD_PARTY_ARTIFACTS:
        path = NODE_MODULES / THIRD_PARTY_ARTIFACTS[name]
        if not path.exists():
            raise ArtifactMissing(f"{path} is missing: run `npm ci` (or `make bootstrap`).")
        data = json.loads(path.read_text())
        return Artifact(name=name, abi=data["abi"], bytecode=_hex(data.get("bytecode") or ""))
    path = BUILD_DIR / f"{name}.json"
    if not path.exists():
        raise ArtifactMissing(f"{path} is missing: run `make contracts` to compile the Solidity sources.")
    data = json.loads(path.read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=_hex(data["bytecode"]))
