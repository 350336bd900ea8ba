"""One router per kind of caller: operator, providers, relying parties, subjects."""
