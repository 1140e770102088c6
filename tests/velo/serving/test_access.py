"""API keys: kept as digests, any accepted key identifies its caller, nothing else does."""

from __future__ import annotations

import pytest

from velo.serving.access import ApiKeys, BadApiKeys, digest, presented_key


def test_keys_and_digests_are_accepted_and_only_digests_are_kept() -> None:
    keys = ApiKeys.parse(f"alpha-key, sha256:{digest('beta-key')} ,")
    assert keys.required and len(keys) == 2
    assert keys.identify("alpha-key") == digest("alpha-key")[:12]
    assert keys.identify("beta-key") == digest("beta-key")[:12]
    assert keys.identify("alpha-ke") is None and keys.identify("") is None and keys.identify(None) is None
    assert "alpha-key" not in repr(vars(keys))  # only digests in memory


def test_no_keys_means_open_and_a_malformed_digest_is_one_clear_error() -> None:
    assert not ApiKeys.parse("").required
    with pytest.raises(BadApiKeys, match="64 hex digits"):
        ApiKeys.parse("sha256:abc")


def test_the_key_comes_from_the_header_or_a_bearer_token() -> None:
    assert presented_key({"X-API-Key": " k1 "}) == "k1"
    assert presented_key({"Authorization": "Bearer k2"}) == "k2"
    assert presented_key({"Authorization": "Basic k3"}) is None
    assert presented_key({}) is None
