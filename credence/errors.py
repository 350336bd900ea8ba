"""Every error Credence raises on purpose, in one tree.

    CredenceError                      code            HTTP
    ├── UsageError                     usage.invalid    400
    │   ├── RequestInvalid             request.invalid  422
    │   └── RequestTooLarge            request.too_large 413
    ├── RouteNotFound                  route.not_found  404
    ├── MethodNotAllowed               route.method_not_allowed 405
    ├── PolicyError                    policy.invalid   422
    │   └── PolicyNotFound             policy.missing   404
    ├── RecordError                    record.invalid   422
    │   ├── DuplicateRecord            record.duplicate 409
    │   └── IdentifierError            identifier.invalid 422
    ├── SubjectNotFound                subject.not_found 404
    ├── EntitlementNotFound            entitlement.not_found 404
    ├── InputFileError                 input.invalid    400
    │   └── ScorecardError             scorecard.invalid 422
    ├── StoreError                     store.error      503
    │   ├── StoreUnavailable           store.unavailable 503
    │   ├── StoreNotInitialised        store.not_initialised 409
    │   └── StoreConflict              store.conflict   409
    ├── CryptoKeyError                 key.error        500
    ├── MissingExtra                   extra.missing    501
    ├── PlanError                      plan.unsupported 422
    ├── AuthenticationFailed           auth.failed      401
    ├── Forbidden                      access.forbidden 403
    │   ├── ConsentMissing             consent.missing  403
    │   └── CsrfInvalid                web.csrf         403
    ├── PartyNotFound                  party.not_found  404
    ├── PartyExists                    party.exists     409
    ├── PartyInvalid                   party.invalid    422
    ├── ApiKeyNotFound                 api_key.not_found 404
    ├── ConsentNotFound                consent.not_found 404
    ├── ConsentInvalid                 consent.invalid  422
    ├── InternalError                  internal.error   500
    ├── DisputeNotFound                dispute.not_found 404
    ├── DisputeInvalid                 dispute.invalid  422
    ├── DisputeStateError              dispute.state    409
    ├── ReceiptInvalid                 receipt.invalid  422
    ├── DecisionNotFound               decision.not_found 404
    ├── OverrideInvalid                override.invalid 422
    ├── OverrideNotFound               override.not_found 404
    ├── OverrideConflict               override.conflict 409
    ├── ReviewNotFound                 review.not_found 404
    ├── ReviewConflict                 review.conflict  409
    └── ReviewInvalid                  review.invalid   422

Each error carries a stable ``code``, an HTTP ``status``, a message a user can
act on, and optional structured fields (``path``, ``line``, ``suggestion``).
Foreign exceptions are translated where they enter, with ``raise ... from e``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CredenceError(Exception):
    """Root of every error Credence raises deliberately."""

    code: ClassVar[str] = "credence.error"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        suggestion: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.suggestion = suggestion
        if code is not None:
            self.code = code  # type: ignore[misc]  # a finer code on one instance
        self.details = details or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with every field, so an error raised in a worker process arrives whole.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def location(self) -> str:
        """``path:line`` (either part may be missing), or an empty string."""
        parts = [p for p in (self.path, str(self.line) if self.line else None) if p]
        return ":".join(parts)

    def one_line(self) -> str:
        """The error as one line for a terminal: where, what, and the fix."""
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion:
            text += f" ({self.suggestion})"
        return f"error[{self.code}]: {text}"

    def to_dict(self) -> dict[str, Any]:
        """The one JSON shape every entry point renders errors in."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("path", "line", "suggestion"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.details:
            body["details"] = self.details
        return {"error": body}


def _rebuild(cls: type[CredenceError], message: str, state: dict[str, Any]) -> CredenceError:
    """An unpickled error: its class, its message, and every field it was raised with."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class UsageError(CredenceError):
    """A command or request was called with arguments that cannot work."""

    code = "usage.invalid"
    status = 400


class RequestInvalid(UsageError):
    """An HTTP request's body, query or path does not have the documented shape."""

    code = "request.invalid"
    status = 422


class RequestTooLarge(UsageError):
    """An HTTP request body is over the server's size limit (``CREDENCE_MAX_BODY_BYTES``)."""

    code = "request.too_large"
    status = 413


class RouteNotFound(CredenceError):
    """No HTTP endpoint at that path."""

    code = "route.not_found"
    status = 404


class MethodNotAllowed(CredenceError):
    """The HTTP endpoint exists but not with that method."""

    code = "route.method_not_allowed"
    status = 405


class PolicyError(CredenceError):
    """A policy file is malformed or breaks a rule of the policy format."""

    code = "policy.invalid"
    status = 422

    def __init__(self, message: str, *, problems: list[CredenceError] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.problems = problems or []

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        if self.problems:
            body["error"]["problems"] = [p.to_dict()["error"] for p in self.problems]
        return body


class PolicyNotFound(PolicyError):
    """No policy where one was expected (file missing, or none active)."""

    code = "policy.missing"
    status = 404


class RecordError(CredenceError):
    """A behaviour record does not fit the interchange format or the policy."""

    code = "record.invalid"
    status = 422


class DuplicateRecord(RecordError):
    """A record reuses an idempotency key with different content."""

    code = "record.duplicate"
    status = 409


class IdentifierError(RecordError):
    """A subject identifier is invalid for its scheme, or the scheme is unknown."""

    code = "identifier.invalid"
    status = 422


class SubjectNotFound(CredenceError):
    """No subject with that identifier is in the ledger."""

    code = "subject.not_found"
    status = 404


class EntitlementNotFound(CredenceError):
    """The policy has no entitlement with that id."""

    code = "entitlement.not_found"
    status = 404


class InputFileError(CredenceError):
    """An input file cannot be read at all (missing, unknown format, unreadable)."""

    code = "input.invalid"
    status = 400


class ScorecardError(InputFileError):
    """A scorecard card table cannot become a policy (located at its row and column)."""

    code = "scorecard.invalid"
    status = 422


class StoreError(CredenceError):
    """The ledger could not do what was asked."""

    code = "store.error"
    status = 503


class StoreUnavailable(StoreError):
    """The ledger cannot be reached or opened."""

    code = "store.unavailable"
    status = 503


class StoreNotInitialised(StoreError):
    """The ledger has no schema yet, or an older one; ``credence init`` fixes it."""

    code = "store.not_initialised"
    status = 409


class StoreConflict(StoreError):
    """A write conflicted with another writer; retrying is safe."""

    code = "store.conflict"
    status = 409


class CryptoKeyError(CredenceError):
    """The master key is missing, malformed, or does not open this ledger."""

    code = "key.error"
    status = 500


class MissingExtra(CredenceError):
    """A feature needs an optional part of Credence (an extra) that is not installed."""

    code = "extra.missing"
    status = 501


class PlanError(CredenceError):
    """A policy uses something the batch plan cannot express exactly."""

    code = "plan.unsupported"
    status = 422


class InternalError(CredenceError):
    """Something failed that Credence did not expect: a defect, reported in the one shape."""

    code = "internal.error"
    status = 500


class AuthenticationFailed(CredenceError):
    """A token is unknown, malformed, revoked, expired or used already.

    The message never says which, so a guess learns nothing.
    """

    code = "auth.failed"
    status = 401


class Forbidden(CredenceError):
    """The caller is known but may not do this."""

    code = "access.forbidden"
    status = 403


class ConsentMissing(Forbidden):
    """No valid consent of the subject covers this request.

    Raised the same way whether or not the subject exists, so a relying party
    learns nothing about a subject without its consent.
    """

    code = "consent.missing"
    status = 403


class PartyNotFound(CredenceError):
    """No party of that name is registered."""

    code = "party.not_found"
    status = 404


class PartyExists(CredenceError):
    """A party of that name is registered already."""

    code = "party.exists"
    status = 409


class PartyInvalid(CredenceError):
    """A party cannot be registered as given (e.g. a relying party with no known context)."""

    code = "party.invalid"
    status = 422


class ApiKeyNotFound(CredenceError):
    """No API key with that id."""

    code = "api_key.not_found"
    status = 404


class ConsentNotFound(CredenceError):
    """No consent with that id among the subject's own."""

    code = "consent.not_found"
    status = 404


class ConsentInvalid(CredenceError):
    """A consent cannot be granted as asked (wrong party kind, context, entitlement, expiry)."""

    code = "consent.invalid"
    status = 422


# disputes
class DisputeNotFound(CredenceError):
    """No dispute with that id that the caller may see."""

    code = "dispute.not_found"
    status = 404


class DisputeInvalid(CredenceError):
    """A dispute cannot be filed or answered as asked (unknown record, no new information)."""

    code = "dispute.invalid"
    status = 422


class DisputeStateError(CredenceError):
    """The dispute is not in a state that allows this step (e.g. resolving a lapsed one)."""

    code = "dispute.state"
    status = 409


# overrides, reviews, receipts


class ReceiptInvalid(CredenceError):
    """A decision receipt is malformed, altered, or signed by another key."""

    code = "receipt.invalid"
    status = 422


class DecisionNotFound(CredenceError):
    """No decision with that id is in the subject's decision log."""

    code = "decision.not_found"
    status = 404


class OverrideInvalid(CredenceError):
    """An override's outcome, reason or end date cannot be accepted."""

    code = "override.invalid"
    status = 422


class OverrideNotFound(CredenceError):
    """No override with that id (or none in force to end)."""

    code = "override.not_found"
    status = 404


class OverrideConflict(CredenceError):
    """An override is already in force for that subject and entitlement."""

    code = "override.conflict"
    status = 409


class ReviewNotFound(CredenceError):
    """No review request with that id."""

    code = "review.not_found"
    status = 404


class ReviewConflict(CredenceError):
    """A review transition that is not allowed from the request's state."""

    code = "review.conflict"
    status = 409


class ReviewInvalid(CredenceError):
    """A review request or resolution is missing what it needs."""

    code = "review.invalid"
    status = 422


# --- web pages --------------------------------------------------------------------------


class CsrfInvalid(Forbidden):
    """A form was sent without this site's CSRF token (or with a stale or forged one)."""

    code = "web.csrf"
    status = 403
