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
from collections.abc import Mapping
from typing import Any

import orjson

from credence.types import Record

VERSION = "credence-record/1"
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _canonical_attributes(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    for value in attributes.values():
        if type(value) is float and value.is_integer():
            return {
                name: int(v) if type(v) is float and v.is_integer() else v
                for name, v in attributes.items()
            }
    return attributes


def content_hash(record: Record, *, subject_lookup: bytes, kind: str) -> bytes:
    """The SHA-256 digest of the record's canonical JSON (orjson, keys sorted, compact).

    Raises:
        orjson.JSONEncodeError: for a value JSON cannot hold; validation refuses those first.
    """
    body = [
        VERSION,
        record.provider,
        record.provider_event_id,
        subject_lookup.hex(),
        kind,
        record.type,
        record.occurred_at,
        _canonical_attributes(record.attributes),
        record.evidence,
        record.retracts,
    ]
    return hashlib.sha256(orjson.dumps(body, option=_SORT_KEYS)).digest()
