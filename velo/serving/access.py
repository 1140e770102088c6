"""Who may call the worker's HTTP API: API keys, checked without keeping them.

``VELO_API_KEYS`` lists the keys, comma-separated. Each entry is either a key
itself, or ``sha256:<hex>``, the SHA-256 of one (so a Secret or ConfigMap need
not hold the key in the clear). Only the digests are kept in memory, and a
presented key is hashed and compared against every digest with
:func:`hmac.compare_digest`, so neither the answer nor its timing says how
much of a key was right. A key's identity (its digest's first 12 hex digits)
is what the rate limit counts per, and what logs may name.

With no keys set the API is open, as it is on the loopback address the
worker binds by default; ``velo worker`` warns when it binds any other
address that way.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

#: The header a client sends its key in; ``Authorization: Bearer <key>`` works too.
HEADER = "X-API-Key"
_PREFIX = "sha256:"


class BadApiKeys(ValueError):
    """``VELO_API_KEYS`` holds an entry that is neither a key nor a digest."""


def digest(key: str) -> str:
    """The SHA-256 hex digest of a key: what ``sha256:<hex>`` entries hold."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """The accepted keys, as digests (see the module doc)."""

    def __init__(self, entries: Iterable[str]) -> None:
        digests = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry.startswith(_PREFIX):
                hexed = entry[len(_PREFIX) :].lower()
                if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
                    raise BadApiKeys("VELO_API_KEYS: a sha256: entry must be 64 hex digits")
                digests.append(bytes.fromhex(hexed))
            else:
                digests.append(hashlib.sha256(entry.encode()).digest())
        self._digests = digests

    @classmethod
    def parse(cls, value: str) -> ApiKeys:
        """From ``VELO_API_KEYS``' comma-separated form."""
        return cls(value.split(","))

    @property
    def required(self) -> bool:
        """Whether a key is needed at all (False: no keys configured)."""
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def identify(self, presented: str | None) -> str | None:
        """The caller's identity if ``presented`` is an accepted key, else None.
        Every digest is compared, whatever matched, in constant time each."""
        if not presented:
            return None
        got = hashlib.sha256(presented.encode()).digest()
        match = None
        for d in self._digests:
            if hmac.compare_digest(got, d):
                match = d
        return None if match is None else match.hex()[:12]


def presented_key(headers: object) -> str | None:
    """The key a request carries: ``X-API-Key``, or a bearer token."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    key = get(HEADER)
    if key:
        return str(key).strip()
    auth = get("Authorization") or ""
    scheme, _, token = str(auth).partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
