"""The signer's dstack app compose: pinned by digest, configured in the measured file, hashed as dstack hashes it."""

from __future__ import annotations

import hashlib
import json

import pytest
from dstack_sdk.get_compose_hash import get_compose_hash

from enclave_signer.app_compose import (
    ALLOWED_ENVS,
    TEMPLATE,
    ComposeError,
    app_compose,
    compose_hash,
    pinned_images,
    render,
)
from enclave_signer.cli import main
from enclave_signer.config import load_config
from tests.signer.factories import LAUNCHER, REFUNDER, USDC, signer_env

IMAGE = "ghcr.io/example/ai-pool-signer@sha256:" + "ab" * 32
CHAIN_ID = 84532
CONTRACTS = {"chain_id": CHAIN_ID, "launcher": LAUNCHER, "refunder": REFUNDER, "raise_assets": [USDC]}


def rendered() -> str:
    return render(TEMPLATE.read_text(), image=IMAGE, chain_id=CHAIN_ID, contracts=CONTRACTS)


def test_the_app_compose_hash_is_dstacks_own():
    manifest = app_compose(rendered())

    assert compose_hash(manifest) == hashlib.sha256(manifest).hexdigest()
    # dstack-sdk's implementation of the same hash, from the parsed file: our bytes are its deterministic form.
    assert get_compose_hash(json.loads(manifest)) == compose_hash(manifest)
    assert pinned_images(manifest) == [IMAGE]
    parsed = json.loads(manifest)
    assert parsed["allowed_envs"] == list(ALLOWED_ENVS) and parsed["runner"] == "docker-compose"
    assert "/var/run/dstack.sock:/var/run/dstack.sock" in parsed["docker_compose_file"]


def test_the_policy_is_in_the_measured_file_and_the_signer_reads_it_from_there(tmp_path):
    """Chain and contract addresses are fixed in the compose (so in its hash), not set by the host."""
    text = rendered()
    environment = dict(
        line.strip().split(": ", 1) for line in text.split("environment:")[1].split("volumes:")[0].strip().splitlines()
    )
    assert environment["CHAIN_ID"] == f'"{CHAIN_ID}"'
    inline = environment["SIGNER_CONTRACTS"].strip("'")

    config = load_config(signer_env(tmp_path, CHAIN_ID=str(CHAIN_ID), SIGNER_CONTRACTS=inline))
    known = config.known_contracts()

    assert (known.launcher, known.refunder) == (LAUNCHER, REFUNDER) and USDC in known.raise_assets


@pytest.mark.parametrize(
    "image, message",
    [
        ("ghcr.io/example/ai-pool-signer:latest", "give the image by digest"),
        ("ghcr.io/example/ai-pool-signer@sha256:abc", "give the image by digest"),
    ],
)
def test_an_image_not_pinned_by_digest_is_refused(image, message):
    with pytest.raises(ComposeError, match=message):
        render(TEMPLATE.read_text(), image=image, chain_id=CHAIN_ID, contracts=CONTRACTS)


def test_anything_the_host_could_change_is_refused():
    template = TEMPLATE.read_text()
    with pytest.raises(ComposeError, match="reads SIGNER_MAX_TX_FEE_WEI from the host"):
        render(template + "      SIGNER_MAX_TX_FEE_WEI: ${SIGNER_MAX_TX_FEE_WEI}\n", image=IMAGE, chain_id=CHAIN_ID,
               contracts=CONTRACTS)  # fmt: skip
    with pytest.raises(ComposeError, match="not pinned by digest"):
        render(
            template + "  sidecar:\n    image: busybox:latest\n", image=IMAGE, chain_id=CHAIN_ID, contracts=CONTRACTS
        )
    with pytest.raises(ComposeError, match="for chain 84532, not 1"):
        render(template, image=IMAGE, chain_id=1, contracts=CONTRACTS)


def test_cli_writes_the_file_and_prints_its_hash_which_verify_attestation_accepts(tmp_path, capsys):
    contracts = tmp_path / "contracts.json"
    contracts.write_text(json.dumps(CONTRACTS))
    out = tmp_path / "app-compose.json"
    args = ["app-compose", "--image", IMAGE, "--chain-id", str(CHAIN_ID), "--contracts", str(contracts)]

    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == hashlib.sha256(out.read_bytes()).hexdigest() == compose_hash(app_compose(rendered()))

    assert main([*args[:2], "busybox", *args[3:], "--out", str(out)]) == 2
    assert "give the image by digest" in capsys.readouterr().err
    assert main([*args[:-1], str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
