"""The README's and the docs' examples run as written, against a fresh ledger.

Each shell line of the README's "What it does" block is run by the installed
``credence`` command; the record examples of docs/records.md are ingested, in
order, into one ledger; the batch commands of docs/batch.md run on it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CREDENCE = shutil.which("credence")

pytestmark = pytest.mark.skipif(CREDENCE is None, reason="the credence command is not installed")

# Long-running commands the examples show but a test cannot wait for.
SERVES = ("credence serve",)


def refusal(line: str) -> bool:
    """The lint of the system as described: its documented answer is a refusal (exit 1)."""
    return line.startswith("credence lint") and "as-described" in line


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def commands(block: str) -> list[str]:
    """The command lines of a shell block, continuations joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def run(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_") or "TEST" in k}
    args = shlex.split(line)
    assert args[0] == "credence", line
    return subprocess.run(
        [CREDENCE or "credence", *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A fresh directory holding the repository's examples, as a new user's checkout."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def test_readme_examples_run_against_a_fresh_ledger(workdir: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [what_it_does] = [b for b in blocks(readme, "sh") if "credence init" in b]
    ran = 0
    for line in commands(what_it_does):
        if line.startswith(SERVES):
            continue
        proc = run(line, workdir)
        if refusal(line):
            assert proc.returncode == 1, (line, proc.stderr)
            assert "error" in proc.stdout + proc.stderr, line
        else:
            assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        ran += 1
    assert ran >= 6


def test_records_examples_ingest_in_sequence_into_one_ledger(workdir: Path) -> None:
    text = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    db = workdir / "ledger.db"
    init = run(f"credence init --db {db} --policy examples/policies/consumer-trust.yaml", workdir)
    assert init.returncode == 0, init.stderr
    files: list[Path] = []
    for i, block in enumerate(blocks(text, "csv")):
        files.append(workdir / f"example-{i}.csv")
        files[-1].write_text(block, encoding="utf-8")
    records = [b for b in blocks(text, "json") if '"provider_event_id"' in b and '"line"' not in b]
    for i, block in enumerate(records):
        files.append(workdir / f"example-{i}.jsonl")
        files[-1].write_text(block, encoding="utf-8")
    assert len(files) >= 2
    for path in files:
        proc = run(f"credence ingest --db {db} {path.name} --json", workdir)
        assert proc.returncode == 0, (path.read_text(), proc.stdout, proc.stderr)
        assert '"rejected": 0' in proc.stdout, proc.stdout
    explain = run(f"credence explain --db {db} cn.ric:11010519491231002X --json", workdir)
    assert explain.returncode == 0, explain.stderr
    assert '"withdrawn"' in explain.stdout and '"b-3"' in explain.stdout


@pytest.mark.slow
def test_batch_examples_run_on_the_readme_ledger(workdir: Path) -> None:
    text = (ROOT / "docs" / "batch.md").read_text(encoding="utf-8")
    db = workdir / "credence.db"
    for line in (
        f"credence init --db {db} --policy examples/policies/consumer-trust.yaml",
        f"credence ingest --db {db} examples/records/consumer.jsonl",
    ):
        assert run(line, workdir).returncode == 0, line
    ran = 0
    for block in blocks(text, "sh"):
        for line in commands(block):
            if line.startswith("pip ") or "--engine spark" in line:
                continue  # installs, and Spark (tests/batch/test_spark.py runs it)
            proc = run(line, workdir)
            assert proc.returncode == 0, (line, proc.stderr)
            ran += 1
    assert ran >= 3
    assert (workdir / "scores.parquet").exists()
