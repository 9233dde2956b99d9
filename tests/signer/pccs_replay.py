"""A REPLAY of a PCCS (Intel's collateral cache), on loopback: a test double for Phala's or Intel's public service.

It serves the recorded collateral of tests/data/tee-samples/tdx_quote_collateral.json at the PCCS v4 paths dcap-qvl
asks for, with the issuer chains in the headers a PCCS sets, so dcap-qvl's real fetching and parsing code runs.
"""

from __future__ import annotations

import json
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.loopback import serving


def _routes(collateral: dict) -> dict[str, tuple[bytes, dict[str, str]]]:
    def chain(name: str) -> str:
        return urllib.parse.quote(collateral[name], safe="")

    signed = lambda field, body, signature: (  # noqa: E731 - the PCS's {"<field>": <raw JSON>, "signature": hex}
        f'{{"{field}":{collateral[body]},"signature":"{collateral[signature]}"}}'.encode()
    )
    return {
        "/sgx/certification/v4/pckcrl": (
            bytes.fromhex(collateral["pck_crl"]),
            {"SGX-PCK-CRL-Issuer-Chain": chain("pck_crl_issuer_chain")},
        ),
        "/tdx/certification/v4/tcb": (
            signed("tcbInfo", "tcb_info", "tcb_info_signature"),
            {"TCB-Info-Issuer-Chain": chain("tcb_info_issuer_chain")},
        ),
        "/tdx/certification/v4/qe/identity": (
            signed("enclaveIdentity", "qe_identity", "qe_identity_signature"),
            {"SGX-Enclave-Identity-Issuer-Chain": chain("qe_identity_issuer_chain")},
        ),
        "/sgx/certification/v4/rootcacrl": (collateral["root_ca_crl"].encode(), {}),  # a PCCS answers it in hex
    }


class PccsReplay:
    """`with PccsReplay(path) as url:` serves the collateral at `url` until the block ends; `paths` lists requests."""

    def __init__(self, collateral_path: Path) -> None:
        self.routes = _routes(json.loads(collateral_path.read_text()))
        self.paths: list[str] = []
        self._serving = serving(ThreadingHTTPServer(("127.0.0.1", 0), self._handler()))

    def _handler(self):
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                replay.paths.append(self.path)
                body, headers = replay.routes.get(urllib.parse.urlsplit(self.path).path, (b"not replayed", None))
                self.send_response(200 if headers is not None else 404)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def __enter__(self) -> str:
        server = self._serving.__enter__()
        return f"http://127.0.0.1:{server.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self._serving.__exit__(*exc)
