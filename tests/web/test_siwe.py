"""Sign-In with Ethereum (EIP-4361): a server nonce used once, this site's domain only, the address's own signature."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct

from web.models import SiweNonce
from web.services import SiweError, siwe_login_verify, siwe_message_prepare

pytestmark = pytest.mark.django_db

WALLET = Account.from_key("0x" + "42" * 32)
OTHER = Account.from_key("0x" + "43" * 32)


def sign(message: str, account=WALLET) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex()


def ask_message(client, address: str = WALLET.address) -> str:
    response = client.post(reverse("siwe-message"), {"address": address})
    assert response.status_code == 200, response.content
    return response.json()["message"]


def test_signing_the_servers_message_signs_the_session_in_as_that_address(client):
    message = ask_message(client, WALLET.address.lower())

    response = client.post(reverse("siwe-verify"), {"message": message, "signature": sign(message)})

    assert response.status_code == 200
    assert response.json()["address"] == WALLET.address
    assert message.startswith("testserver wants you to sign in with your Ethereum account:\n" + WALLET.address)
    assert "Chain ID: 31337" in message
    page = client.get(reverse("account")).content.decode()
    assert f'Signed in as <code class="hex">{WALLET.address}</code>' in page
    assert f'Pools of <code class="hex">{WALLET.address}</code>' in page


def test_a_signed_message_works_once(client):
    message = ask_message(client)
    signature = sign(message)

    first = client.post(reverse("siwe-verify"), {"message": message, "signature": signature})
    replay = client.post(reverse("siwe-verify"), {"message": message, "signature": signature})

    assert first.status_code == 200
    assert replay.status_code == 400
    assert "already used" in replay.json()["error"]


def test_a_message_for_another_domain_is_refused_even_with_our_nonce(client):
    message = ask_message(client).replace("testserver wants you", "evil.example wants you", 1)

    response = client.post(reverse("siwe-verify"), {"message": message, "signature": sign(message)})

    assert response.status_code == 400
    assert "not for this site" in response.json()["error"]
    assert SiweNonce.objects.get().used_at is None


def test_someone_elses_signature_is_refused(client):
    message = ask_message(client)

    response = client.post(reverse("siwe-verify"), {"message": message, "signature": sign(message, OTHER)})

    assert response.status_code == 400
    assert "does not check out" in response.json()["error"]


def test_a_nonce_the_server_never_issued_is_refused(client):
    message = ask_message(client)
    nonce = SiweNonce.objects.get().nonce
    forged = message.replace(nonce, "f" * 32)

    response = client.post(reverse("siwe-verify"), {"message": forged, "signature": sign(forged)})

    assert response.status_code == 400
    assert "not issued here" in response.json()["error"]


def test_an_expired_message_is_refused():
    issued = timezone.now() - timedelta(minutes=11)
    message = siwe_message_prepare(address=WALLET.address, domain="testserver", uri="http://testserver/", now=issued)

    with pytest.raises(SiweError, match="does not check out"):
        siwe_login_verify(message=message, signature=sign(message), domain="testserver")


def test_garbage_is_refused_politely(client):
    response = client.post(reverse("siwe-verify"), {"message": "hello", "signature": "0x00"})

    assert response.status_code == 400
    assert response.json()["error"] == "The sign-in message is malformed."


def test_signing_in_needs_the_csrf_token(client):
    strict = client.__class__(enforce_csrf_checks=True)

    assert strict.post(reverse("siwe-message"), {"address": WALLET.address}).status_code == 403


def test_signing_out_forgets_the_address(client):
    message = ask_message(client)
    client.post(reverse("siwe-verify"), {"message": message, "signature": sign(message)})

    client.post(reverse("sign-out"))

    assert "Signed in as" not in client.get(reverse("account")).content.decode()
