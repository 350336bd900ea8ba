"""Finding a stored subject by the identifier the outside world names it with, and back."""

from __future__ import annotations

from credence.errors import SubjectNotFound
from credence.ingest.identifiers import normalise
from credence.ledger import SubjectRow
from credence.service.ledger import Ledger, identifier_of
from credence.types import SubjectRef


def resolve(ledger: Ledger, ref: SubjectRef) -> SubjectRow:
    """The stored subject an identifier names.

    Raises:
        IdentifierError: when the identifier is invalid for its scheme.
        SubjectNotFound: when no record about the subject has been ingested.
    """
    identifier = normalise(ref.scheme, ref.id)
    lookup = ledger.keys.lookup(ref.scheme, identifier)
    row = ledger.store.find_subjects([lookup]).get(lookup)
    if row is None:
        raise SubjectNotFound(
            f"no subject {ref.scheme}:{identifier} in the ledger",
            suggestion="subjects exist from their first ingested record",
        )
    return row


def identity(ledger: Ledger, row: SubjectRow) -> SubjectRef:
    """The plaintext identifier of a stored subject (``[erased]`` once shredded)."""
    return SubjectRef(row.scheme, identifier_of(ledger.keys, row))
