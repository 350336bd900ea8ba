"""The content hash of a record: what tells an identical resend from a conflicting one.

The hash is SHA-256 over a canonical JSON array of everything a record says:
provider, provider_event_id, the subject's lookup hash (hex), kind, type,
occurred_at (epoch microseconds, so equal instants written with different
offsets agree), attributes (keys sorted; a whole float written as an integer,
so ``5`` from JSON and ``5.0`` from a Parquet double agree), evidence and
retracts. Changing this changes every hash: version it, never edit it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

VERSION = "credence-record/1"
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _canonical_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: int(value) if type(value) is float and value.is_integer() else value
        for name, value in attributes.items()
    }


def content_hash(
    *,
    provider: str,
    provider_event_id: str,
    subject_lookup: bytes,
    kind: str,
    type_: str,
    occurred_at: int,
    attributes: Mapping[str, Any],
    evidence: str | None,
    retracts: str | None,
) -> bytes:
    """The SHA-256 digest of the record's canonical JSON."""
    body = [
        VERSION,
        provider,
        provider_event_id,
        subject_lookup.hex(),
        kind,
        type_,
        occurred_at,
        _canonical_attributes(attributes),
        evidence,
        retracts,
    ]
    return hashlib.sha256(_ENCODER.encode(body).encode()).digest()
