"""The policy format (version 1): models, loading with located errors, reference checks."""

from credence.policy.load import LoadedPolicy, load_policy, parse_policy
from credence.policy.model import Policy

__all__ = ["LoadedPolicy", "Policy", "load_policy", "parse_policy"]
