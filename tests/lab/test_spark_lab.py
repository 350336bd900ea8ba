"""The backtest's runs give the same outcomes on Spark (local mode) as on DuckDB."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from credence.batch.export import records_table
from credence.lab.backtest import compare
from credence.lab.runs import run_policies, union_attributes
from credence.policy.model import Policy
from tests.batch.batch_strategies import Case, cases, policies
from tests.lab.test_backtest import with_entitlements

_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("under CI=true a skipped Spark test is a failure")
        pytest.skip("Spark tests need PySpark: pip install 'credence[spark]'")
    from credence.batch.spark_runner import spark_session

    session = spark_session(master="local[1]", app="credence-lab-tests")
    session.conf.set("spark.sql.shuffle.partitions", "1")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.slow
def test_a_backtest_on_spark_reports_what_it_reports_on_duckdb(
    spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("spark-lab")

    @settings(
        max_examples=2,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(cases(), policies())
    def check(case: Case, other: Policy) -> None:
        pair = [with_entitlements(case.policy.policy), with_entitlements(other, version="2")]
        folder = directory / f"case-{next(_COUNTER)}"
        folder.mkdir()
        pq.write_table(records_table(case.rows(), union_attributes(pair)), folder / "r.parquet")
        kinds = dict.fromkeys(case.subjects, "person")
        on_spark = run_policies(
            pair, folder, as_of=case.as_of, kinds=kinds, engine="spark", spark=spark
        )
        on_duckdb = run_policies(pair, folder, as_of=case.as_of, kinds=kinds)
        for s, d in zip(on_spark, on_duckdb, strict=True):
            assert s.subjects == d.subjects
        spark_report = compare(*on_spark, as_of=case.as_of).report
        duck_report = compare(*on_duckdb, as_of=case.as_of).report
        for part in ("migration", "score_change", "entitlements", "harmed", "tiers"):
            assert spark_report[part] == duck_report[part]

    check()
