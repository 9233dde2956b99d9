"""The signer's dstack app compose: the file a dstack CVM runs, byte for byte, and whose sha256 it measures.

dstack measures sha256(app-compose.json) into RTMR3 as the `compose-hash` event before any container starts, so the
compose-hash in a quote names exactly this file: the signer's image by digest, its fixed configuration (chain,
contract addresses, limits), and which variables the host may still set (`allowed_envs`: the HMAC keys and the RPC
URL, nothing that changes what the signer allows). Anyone can rebuild the file from the template in this repository
and the release's image digest, and compare its hash with the one a quote carries (docs/deploy-cvm.md).

The JSON is written the way dstack's SDKs write it (keys sorted at every level, no spaces, UTF-8), so
`dstack_sdk.get_compose_hash` of the parsed file gives the same hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "dstack" / "docker-compose.yaml"
DEFAULT_NAME = "ai-pool-signer"
# Only these reach the signer from the host (dstack encrypts them to the CVM). Nothing that widens the policy.
ALLOWED_ENVS = ("CHAIN_RPC_URL", "SIGNER_HMAC_KEYS")
PINNED_IMAGE = re.compile(r"^[\w.\-/:]+@sha256:[0-9a-f]{64}$")
IMAGE_LINE = re.compile(r"^\s*image:\s*(\S+)\s*$", re.MULTILINE)
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class ComposeError(Exception):
    """The app compose cannot be built as asked: it would not pin what runs."""


def render(template: str, *, image: str, chain_id: int, contracts: dict) -> str:
    """The docker compose file with the deployment's values; refuses anything that would not be measured."""
    if not PINNED_IMAGE.match(image):
        raise ComposeError(f"--image {image!r}: give the image by digest, REPOSITORY@sha256:<64 hex digits>")
    if int(contracts.get("chain_id", -1)) != chain_id:
        raise ComposeError(f"the contracts file is for chain {contracts.get('chain_id')}, not {chain_id}")
    values = {
        "image": image,
        "chain_id": str(chain_id),
        "contracts": json.dumps(contracts, sort_keys=True, separators=(",", ":")),
    }
    unknown = set(PLACEHOLDER.findall(template)) - values.keys()
    if unknown:
        raise ComposeError(f"the template has placeholders this command does not fill: {', '.join(sorted(unknown))}")
    text = PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    for found in IMAGE_LINE.findall(text):
        if not PINNED_IMAGE.match(found.strip("'\"")):
            raise ComposeError(f"image {found} is not pinned by digest: the compose-hash would not pin the code")
    variables = set(VARIABLE.findall(text)) - set(ALLOWED_ENVS)
    if variables:
        raise ComposeError(
            f"the compose reads {', '.join(sorted(variables))} from the host: only {', '.join(ALLOWED_ENVS)} may be"
        )
    return text


def app_compose(docker_compose: str, *, name: str = DEFAULT_NAME) -> bytes:
    """dstack's app-compose.json for this docker compose file, in deterministic form."""
    manifest = {
        "manifest_version": 2,
        "name": name,
        "runner": "docker-compose",
        "docker_compose_file": docker_compose,
        "kms_enabled": True,
        "key_provider": "kms",
        "key_provider_id": "",
        "local_key_provider_enabled": False,
        "gateway_enabled": True,
        "public_logs": False,
        "public_sysinfo": True,
        "public_tcbinfo": True,
        "allowed_envs": list(ALLOWED_ENVS),
        "no_instance_id": False,
        "secure_time": True,
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compose_hash(app_compose_json: bytes) -> str:
    """What dstack measures as `compose-hash`: the sha256 of the file's bytes."""
    return hashlib.sha256(app_compose_json).hexdigest()


def pinned_images(app_compose_json: bytes) -> list[str]:
    """The image references an app-compose.json runs (to compare with a release's published digests)."""
    manifest = json.loads(app_compose_json)
    return [image.strip("'\"") for image in IMAGE_LINE.findall(manifest.get("docker_compose_file", ""))]
