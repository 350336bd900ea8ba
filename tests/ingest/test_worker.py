"""Ingest through a worker process gives what ingest in one process gives, row for row."""

from __future__ import annotations

import base64
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from credence.errors import StoreUnavailable
from credence.ledger import open_store
from credence.ledger import worker as worker_module
from credence.service import ingest
from credence.service.ingest import FileReport, ingest_files
from tests.conftest import new_postgres_database
from tests.ingest.conftest import bill, new_ledger, read_rejects, stored, write_jsonl


def mixed_rows() -> list[Any]:
    """Forty-odd rows over many small batches, where each later batch depends on earlier ones."""
    rows: list[Any] = []
    for i in range(30):
        rows.append(
            bill(
                f"e-{i}", subject_id=f"s-{i % 7}", occurred_at=f"2026-03-{i % 28 + 1:02d}T09:00:00Z"
            )
        )
    rows += [
        bill("r-1", retracts="e-2", subject_id="s-2", attributes=None),  # target batches back
        bill("x-1", subject_id="s-3", subject_kind="organization"),  # s-3 is a person
        bill("e-4", subject_id="s-4", attributes={"days_late": 9, "amount": 1.0}),  # conflict
        bill("e-5", subject_id="s-5", occurred_at="2026-03-06T09:00:00Z"),  # resend
        "{not json",
        bill("r-2", retracts="nope", subject_id="s-1", attributes=None),  # no such record
        bill("late-1", subject_id="newcomer"),
        bill("late-2", subject_id="newcomer", subject_kind="organization"),  # same batch
        bill("r-3", retracts="late-1", subject_id="newcomer", attributes=None),
    ]
    return rows


def outcome(url: str, path: Path, worker: str) -> tuple[list[FileReport], list[Any], Any]:
    ledger = new_ledger(url, batch_size=2, ingest_worker=worker)
    try:
        first = ingest_files(ledger, [path])
        rejects = read_rejects(path)
        again = ingest_files(ledger, [path])
        content = sorted(sorted(records) for records in stored(ledger).values())
    finally:
        ledger.store.close()
    reports = [(r.rows, r.inserted, r.unchanged, r.rejected) for r in first + again]
    return reports, [(r["line"], r["code"]) for r in rejects], content


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_worker_and_in_process_ingest_agree(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", mixed_rows())
    if backend == "sqlite":
        on = outcome(str(tmp_path / "on.db"), path, "on")
        off = outcome(str(tmp_path / "off.db"), path, "off")
    else:
        server = request.getfixturevalue("postgres_server")
        with new_postgres_database(server) as a, new_postgres_database(server) as b:
            on, off = outcome(a, path, "on"), outcome(b, path, "off")
    assert on == off
    reports, rejects, _ = on
    assert reports[0] == (39, 33, 1, 5)
    assert [code for _, code in rejects] == [
        "record.subject_kind",
        "record.duplicate",
        "record.malformed",
        "record.retracts",
        "record.subject_kind",
    ]
    assert reports[1] == (39, 0, 34, 5)  # the second pass changes nothing


def test_auto_starts_a_worker_once_a_run_passes_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    written_here: list[int] = []

    class Spy(worker_module.StoreWorker):
        def __init__(self, location: str, *, display: str) -> None:
            started.append(sum(written_here))
            super().__init__(location, display=display)

    monkeypatch.setattr(ingest, "StoreWorker", Spy)
    monkeypatch.setattr(ingest, "WORKER_AFTER_ROWS", 10)
    ledger = new_ledger(str(tmp_path / "ledger.db"), batch_size=4)
    store_append = ledger.store.append

    def append(subjects: Any, records: Any, *, ingested_at: int) -> Any:
        written_here.append(len(records))
        return store_append(subjects, records, ingested_at=ingested_at)

    monkeypatch.setattr(ledger.store, "append", append)
    small = write_jsonl(tmp_path / "small.jsonl", [bill(f"s-{i}") for i in range(10)])
    large = write_jsonl(tmp_path / "large.jsonl", [bill(f"e-{i}") for i in range(30)])
    try:
        [report] = ingest_files(ledger, [small])
        assert started == [] and report.inserted == 10  # a short run: all in this process
        written_here.clear()
        [report] = ingest_files(ledger, [large])
        # Three batches of four here; the fourth batch starts the worker, which writes the rest.
        assert started == [12] and sum(written_here) == 12 and report.inserted == 30
        assert ledger.store.counts()["records"] == 40 and ledger.store.verify().ok
        memory = new_ledger("memory:", ingest_worker="on")  # nothing to hand a worker
        [report] = ingest_files(memory, [large])
        assert len(started) == 1 and report.inserted == 30
    finally:
        ledger.store.close()


def test_a_worker_that_cannot_start_is_an_error_only_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start(location: str, *, display: str) -> None:
        raise StoreUnavailable("cannot start a ledger worker process: no processes left")

    monkeypatch.setattr(ingest, "StoreWorker", cannot_start)
    monkeypatch.setattr(ingest, "WORKER_AFTER_ROWS", 0)
    path = write_jsonl(tmp_path / "in.jsonl", [bill("e-1"), bill("e-2")])
    auto = new_ledger(str(tmp_path / "auto.db"), ingest_worker="auto")
    on = new_ledger(str(tmp_path / "on.db"), ingest_worker="on")
    try:
        [report] = ingest_files(auto, [path])  # auto goes on in this process
        assert report.inserted == 2
        with pytest.raises(StoreUnavailable, match="no processes left"):
            ingest_files(on, [path])
        assert on.store.counts()["records"] == 0
    finally:
        auto.store.close()
        on.store.close()


@pytest.mark.parametrize("worker", ["on", "off"])
def test_resending_an_erased_subjects_records_does_not_register_it_again(
    worker: str, tmp_path: Path
) -> None:
    ledger = new_ledger(str(tmp_path / "ledger.db"), batch_size=2, ingest_worker=worker)
    try:
        alice = [bill(f"a-{i}", occurred_at=f"2026-03-0{i + 1}T09:00:00Z") for i in range(5)]
        bob = [bill(f"b-{i}", subject_id="bob") for i in range(3)]
        ingest_files(ledger, [write_jsonl(tmp_path / "first.jsonl", alice + bob)])
        lookup = ledger.keys.lookup("custom", "alice")
        row = ledger.store.find_subjects([lookup])[lookup]
        ledger.store.erase_subject(row.key, at=1, lookup=b"\x07" * 32)

        # Alice's records come again, over several batches in flight, then bob's.
        [report] = ingest_files(ledger, [write_jsonl(tmp_path / "again.jsonl", alice + bob)])
        assert (report.inserted, report.unchanged, report.rejected) == (0, 8, 0)
        assert ledger.store.find_subjects([lookup]) == {}
        assert ledger.store.counts() == {"subjects": 2, "records": 8}

        # A new record of hers, right behind the resends: that registers her again.
        rows = [*alice, bill("a-new", occurred_at="2026-04-01T09:00:00Z"), *alice[:2]]
        [report] = ingest_files(ledger, [write_jsonl(tmp_path / "new.jsonl", rows)])
        assert (report.inserted, report.unchanged, report.rejected) == (1, 7, 0)
        (found,) = ledger.store.find_subjects([lookup]).values()
        assert [r.provider_event_id for r in ledger.store.records(found.key)] == ["a-new"]
        assert ledger.store.counts() == {"subjects": 3, "records": 9}
        assert ledger.store.verify().ok
    finally:
        ledger.store.close()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killing_ingest_loses_and_duplicates_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ingest killed at random moments, then run again: every record once, workers gone."""
    url = (
        str(tmp_path / "ledger.db")
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    rows = [
        bill(f"e-{i}", subject_id=f"s-{i % 300}", occurred_at=f"2026-03-{i % 28 + 1:02d}T09:00:00Z")
        for i in range(20_000)
    ]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    env = {
        **os.environ,
        "CREDENCE_MASTER_KEY": base64.b64encode(bytes(range(32))).decode(),
        "CREDENCE_INGEST_WORKER": "on",
        "CREDENCE_BATCH_SIZE": "250",
    }
    policy = str(Path(__file__).parents[2] / "examples" / "policies" / "consumer-trust.yaml")
    command = ["credence", "ingest", "--db", url, str(path)]
    subprocess.run(["credence", "init", "--db", url, "--policy", policy], env=env, check=True)
    rng = random.Random(13)
    kills = 0
    for _ in range(4):
        ingest = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while not (workers := _children(ingest.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.0))  # somewhere in the worker's batches
        ingest.kill()
        ingest.wait()
        kills += bool(workers)
        deadline = time.monotonic() + 3
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(_running(w) for w in workers), "a worker outlived its parent"
    assert kills == 4  # every kill caught a worker at work
    subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "20000 already stored" in again.stdout.replace(",", ""), again.stdout
    store = open_store(url)
    try:
        assert store.counts()["records"] == 20_000  # none lost, none twice
        assert store.verify().ok
    finally:
        store.close()
