"""The published JSON Schema of the policy format."""

from __future__ import annotations

from typing import Any

from credence.policy.model import Policy

SCHEMA_ID = "https://credence.example/schemas/policy-v1.json"


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) for policy files, version 1."""
    schema = Policy.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Credence policy, format version 1",
        **schema,
    }
