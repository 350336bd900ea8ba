"""The pure scoring engine: policy, records and a time in; values out. No I/O, no clock."""

from credence.engine.compiled import CompiledPolicy, compile_policy
from credence.engine.decisions import Decision, Explanation, decide, explain, new_notice
from credence.engine.reasons import Change, Reason
from credence.engine.scoring import Contribution, Outcome, considered_records, round_half_up, score

__all__ = [
    "Change",
    "CompiledPolicy",
    "Contribution",
    "Decision",
    "Explanation",
    "Outcome",
    "Reason",
    "compile_policy",
    "considered_records",
    "decide",
    "explain",
    "new_notice",
    "round_half_up",
    "score",
]
