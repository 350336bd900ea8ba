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
_dumps = orjson.dumps
WHOLE_RANGE = (-(2**63), 2**64)  # whole floats hashed as integers: what orjson writes
_LOW, _HIGH = WHOLE_RANGE
_SHA256 = hashlib.sha256()  # copied per record: cheaper than a new OpenSSL context each time


def canonical_attributes(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """The attributes as hashed: whole floats as integers (the mapping itself when it has none).

    A whole float beyond what a JSON integer may hold here (-2^63 to 2^64 - 1)
    stays a float: such a value (``1e20``) once made hashing fail for the row.
    """
    for value in attributes.values():
        if type(value) is float and value.is_integer() and _LOW <= value < _HIGH:
            return {
                name: int(v) if type(v) is float and v.is_integer() and _LOW <= v < _HIGH else v
                for name, v in attributes.items()
            }
    return attributes


Parts = tuple[str, str, str, str, str, int, Mapping[str, Any], str | None, str | None]
"""What a record says, in hashing order: provider, provider_event_id, the
subject's lookup hash in hex, kind, type, occurred_at, canonical attributes,
evidence, retracts."""


def record_digest(parts: Parts) -> bytes:
    """The content hash of a record given as its parts (attributes already canonical).

    The validator's quick path calls this directly, with the lookup's hex cached.

    Raises:
        orjson.JSONEncodeError: for a value JSON cannot hold; validation refuses those first.
    """
    digest = _SHA256.copy()
    digest.update(_dumps((VERSION, *parts), option=_SORT_KEYS))
    return digest.digest()


def content_hash(record: Record, *, subject_lookup: bytes, kind: str) -> bytes:
    """The SHA-256 digest of the record's canonical JSON (orjson, keys sorted, compact).

    Raises:
        orjson.JSONEncodeError: for a value JSON cannot hold; validation refuses those first.
    """
    return record_digest(
        (
            record.provider,
            record.provider_event_id,
            subject_lookup.hex(),
            kind,
            record.type,
            record.occurred_at,
            canonical_attributes(record.attributes),
            record.evidence,
            record.retracts,
        )
    )
