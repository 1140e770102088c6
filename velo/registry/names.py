"""What a model name and a version may be.

Names and versions become directory names under the registry root, so they
are checked before any file is touched: a name like ``../x`` or ``/tmp/x``
would otherwise write (or delete) outside the registry. The rules are strict
on purpose (lower-case letters, digits, ``.``, ``_``, ``-``; starting with a
letter or digit) so a name is also a safe Kafka key, metric label and URL part.
"""

from __future__ import annotations

import re

from velo.registry.errors import RegistryError

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: Versions are assigned by the registry: 1, 2, 3, ...
VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
#: Files the registry keeps in its root; a model directory must never take their place.
RESERVED = frozenset({"index.json", "index.lock", "history.jsonl", "outbox.jsonl", "published.json"})


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise RegistryError (one line)."""
    reserved = isinstance(name, str) and name in RESERVED
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None or reserved:
        why = " (that name is a registry file)" if reserved else ""
        raise RegistryError(
            f"invalid model name {name!r}{why}: use 1-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. velo, sqpe-hk)"
        )
    return name


def validate_version(version: str) -> str:
    """Return ``version`` if it is a valid version (a positive whole number), else raise RegistryError."""
    if not isinstance(version, str) or VERSION_PATTERN.fullmatch(version) is None:
        raise RegistryError(f"invalid version {version!r}: versions are positive whole numbers (1, 2, 3, ...)")
    return version
