"""The public API is what credence.__all__ names; this pins it."""

from __future__ import annotations

import credence

PUBLIC = [
    "CompiledPolicy",
    "CredenceError",
    "Decision",
    "Explanation",
    "LoadedPolicy",
    "Notice",
    "Outcome",
    "Policy",
    "Record",
    "Settings",
    "SubjectKind",
    "SubjectRef",
    "__version__",
    "compile_policy",
    "decide",
    "explain",
    "load_policy",
    "load_settings",
    "parse_policy",
    "parse_time",
    "score",
]


def test_public_api_is_pinned():
    assert sorted(credence.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(credence, name) is not None


def test_every_public_name_has_one_home():
    from credence import _HOMES

    homes = [name for names in _HOMES.values() for name in names]
    assert sorted(homes) == sorted(set(PUBLIC) - {"__version__"})


def test_importing_a_part_does_not_import_the_engine():
    import subprocess
    import sys

    code = "import sys, credence.ledger.worker; print('credence.engine' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_package_is_typed():
    from importlib import resources

    assert resources.files("credence").joinpath("py.typed").is_file()
