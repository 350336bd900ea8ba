"""Decision receipts: every logged decision is signed, verifies offline, and fails once altered."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson
import pytest

from credence.errors import ReceiptInvalid
from credence.receipt import load_receipt, read_public_key
from credence.service.ledger import Ledger
from credence.service.receipts import ledger_public_key, verify_receipt_file
from credence.service.scoring import decide_with_receipt
from credence.service.subjects import resolve
from credence.types import SubjectRef
from tests.cli.test_cli import build, run

ALICE = SubjectRef("custom", "alice")


def test_a_decision_returns_a_receipt_that_verifies_and_names_what_it_was_made_on(
    ledger: Ledger,
) -> None:
    made = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    key = read_public_key(ledger_public_key(ledger).pem, origin="ledger")
    receipt = load_receipt(made.receipt.to_bytes(), origin="receipt", public_key=key)
    body = receipt.body
    head = ledger.store.chain_head()
    stored = ledger.stored_policy_at(made.decision.as_of)
    assert body["decision_id"] == made.decision_id
    assert body["subject"] == resolve(ledger, ALICE).lookup.hex()
    assert body["entitlement"] == "deposit_free_rental"
    assert body["outcome"] == made.decision.outcome == "denied"
    assert body["reason_codes"] == [r.code for r in made.decision.reasons] != []
    assert body["policy"] == {
        "name": stored.name,
        "version": stored.version,
        "digest": stored.digest,
    }
    assert body["ledger"] == {"records": head.records, "head": head.chain_hash.hex()}
    assert body["as_of"] == made.decision.as_of and body["issued_at"] == ledger.clock.now()
    assert b"alice" not in made.receipt.to_bytes()  # the lookup hash, never the identifier
    (logged,) = ledger.store.decisions(resolve(ledger, ALICE).key)
    assert logged.id == made.decision_id and logged.receipt == made.receipt.to_bytes()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("outcome", "granted"),
        ("reason_codes", []),
        ("entitlement", "preferred_loan_rate"),
        ("as_of", 0),
        ("ledger", {"records": 1, "head": "00" * 32}),
    ],
)
def test_a_tampered_receipt_fails_with_a_clear_error(
    ledger: Ledger, field: str, value: object
) -> None:
    made = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    document = orjson.loads(made.receipt.to_bytes())
    document[field] = value
    with pytest.raises(ReceiptInvalid, match="signature does not match its contents"):
        load_receipt(orjson.dumps(document), origin="receipt")


def test_a_receipt_signed_by_another_key_fails_against_the_ledgers_key(ledger: Ledger) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from credence.receipt import raw_public

    made = decide_with_receipt(ledger, ALICE, "deposit_free_rental")
    forger = Ed25519PrivateKey.generate()
    document = orjson.loads(made.receipt.to_bytes())
    document["outcome"] = "granted"
    body = {k: document[k] for k in made.receipt.body}
    document["signature"] = base64.b64encode(
        forger.sign(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    ).decode()
    document["public_key"] = base64.b64encode(raw_public(forger.public_key())).decode()
    forged = orjson.dumps(document)
    load_receipt(forged, origin="forged")  # consistent with the key it carries ...
    ours = read_public_key(ledger_public_key(ledger).pem, origin="ledger")
    with pytest.raises(ReceiptInvalid, match="not the given key"):
        load_receipt(forged, origin="forged", public_key=ours)  # ... but not the ledger's


@pytest.mark.parametrize(
    "text", ["", "{}", '{"format": "credence-receipt/1"}', "not json", "[1, 2]"]
)
def test_a_malformed_receipt_is_refused_with_a_clear_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(text)
    with pytest.raises(ReceiptInvalid, match="cannot be read") as caught:
        verify_receipt_file(path)
    assert caught.value.path == str(path)


def test_decide_writes_a_receipt_that_receipt_verify_checks_offline(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    build(db, tmp_path)
    env = {"CREDENCE_KEY_FILE": str(tmp_path / "ledger.key")}
    receipt, public = tmp_path / "receipt.json", tmp_path / "ledger.pem"
    proc = run(
        "decide", "custom:carol", "credit_limit_review", "--db", db, "--receipt", str(receipt),
        "--json", cwd=tmp_path, env=env,
    )  # fmt: skip
    decided = json.loads(proc.stdout)
    assert decided["receipt"]["decision_id"] == decided["decision_id"]
    run("key", "public", "--db", db, "--out", str(public), cwd=tmp_path, env=env)
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    # Offline: no ledger, no key file.
    checked = run("receipt", "verify", str(receipt), "--public-key", str(public), cwd=tmp_path)
    assert f"valid receipt {decided['decision_id']}" in checked.stdout
    assert "the given public key" in checked.stdout
    altered = json.loads(receipt.read_text())
    altered["outcome"] = "not_restricted"
    receipt.write_text(json.dumps(altered))
    failed = run("receipt", "verify", str(receipt), "--public-key", str(public), cwd=tmp_path,
                 ok=False)  # fmt: skip
    assert failed.returncode == 1
    assert "error[receipt.invalid]" in failed.stderr and "altered" in failed.stderr
