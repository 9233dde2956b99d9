"""keccak256 and EIP-55 checksum addresses, fast enough for trees of 100,000 leaves.

`eth_utils.keccak` costs ~17 µs a call on this machine, almost all of it Python around pycryptodome's C core
(a new hash object, its state allocated and freed, argument conversions). `keccak_hasher()` keeps one state and
calls the core's absorb, digest and reset directly: ~3.5 µs. A hasher is not thread-safe (the C calls release the
GIL and share the state), so each thread gets its own (`keccak256`), and a long loop makes its own (`keccak_hasher`).
Without pycryptodome's cffi backend, both fall back to eth_hash's keccak (same digests, slower).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from eth_hash.auto import keccak as _eth_hash_keccak
from eth_utils import to_checksum_address

try:  # what eth_hash itself uses when it is installed (eth-keyfile requires it)
    from Crypto.Hash import keccak as _pycryptodome_keccak
    from Crypto.Util import _raw_api
except ImportError:
    _pycryptodome_keccak = _raw_api = None

Hasher = Callable[[bytes], bytes]


def _pycryptodome_hasher() -> Hasher | None:
    if _raw_api is None or getattr(_raw_api, "backend", None) != "cffi":  # bytes go straight to C only through cffi
        return None
    try:
        lib = _pycryptodome_keccak._raw_keccak_lib
        pointer = _raw_api.VoidPointer()
        # keccak256: a 512-bit capacity (64 bytes), 24 rounds
        if lib.keccak_init(pointer.address_of(), _raw_api.c_size_t(64), _raw_api.c_ubyte(24)):
            return None
        state = _raw_api.SmartPointer(pointer.get(), lib.keccak_destroy)  # freed with the hasher, which holds it
        handle = state.get()
        out = _raw_api.create_string_buffer(32)
        result = _raw_api.ffi.buffer(out)
        absorb, digest, reset = lib.keccak_absorb, lib.keccak_digest, lib.keccak_reset
    except AttributeError:  # another pycryptodome's internals: eth_hash instead
        return None

    def keccak(data: bytes, _keep_alive=state) -> bytes:
        if absorb(handle, data, len(data)) | digest(handle, out, 32, 1) | reset(handle):  # 1: Keccak's padding
            raise RuntimeError("pycryptodome's keccak failed")
        return result[:]

    return keccak


def keccak_hasher() -> Hasher:
    """A keccak256 function with its own state, for one thread: pycryptodome's C core called directly, or eth_hash's
    keccak when that core is not there or does not give eth_hash's digests."""
    hasher = _pycryptodome_hasher()
    if hasher is None or any(hasher(probe) != _eth_hash_keccak(probe) for probe in (b"", b"abc", bytes(200))):
        return _eth_hash_keccak
    return hasher


_per_thread = threading.local()


def keccak256(data: bytes) -> bytes:
    """keccak256 of `data` (bytes), with this thread's hasher."""
    try:
        hasher = _per_thread.hasher
    except AttributeError:
        hasher = _per_thread.hasher = keccak_hasher()
    return hasher(data)


# An ASCII hex digit's weight in a checksum: letters a-f are upper-cased (minus 0x20) where the hash's nibble is ≥ 8.
_LETTER_CASE_BIT = bytes(0x20 if chr(c) in "abcdef" else 0 for c in range(256))
_HIGH_NIBBLE_BIT = bytes(0x20 if chr(c) in "89abcdef" else 0 for c in range(256))
_HEX_DIGITS = b"0123456789abcdef"


def checksum_address(address: str | bytes, hasher: Hasher = keccak256) -> str:
    """`eth_utils.to_checksum_address`, ~5× faster for a 0x-prefixed 40-digit hex string (anything else goes to it).

    EIP-55: hex digit i is upper-cased when nibble i of keccak256(the lower-case hex digits) is 8 or more. Done on
    the 40 bytes as one integer: subtract 0x20 where the digit is a letter and the nibble is high.
    """
    if type(address) is not str or len(address) != 42 or address[:2] not in ("0x", "0X"):
        return to_checksum_address(address)
    try:
        digits = address[2:].lower().encode("ascii")
    except UnicodeEncodeError:
        return to_checksum_address(address)  # raises, as it does for anything that is not hex
    if digits.translate(None, _HEX_DIGITS):
        return to_checksum_address(address)
    high = hasher(digits).hex().encode("ascii")[:40].translate(_HIGH_NIBBLE_BIT)
    letters = digits.translate(_LETTER_CASE_BIT)
    upper = int.from_bytes(digits, "big") - (int.from_bytes(letters, "big") & int.from_bytes(high, "big"))
    return "0x" + upper.to_bytes(40, "big").decode("ascii")
