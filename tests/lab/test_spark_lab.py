"""The backtest's runs give the same outcomes on Spark (local mode) as on DuckDB."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credence.batch.export import records_table
from credence.lab.backtest import compare
from credence.lab.runs import run_policies, union_attributes
from credence.lab.summary import summarise
from credence.policy.model import Policy
from tests.batch.batch_strategies import Case, cases, policies
from tests.lab.test_backtest import with_entitlements
from tests.lab.test_summary import assert_same_report, with_outcomes

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
        max_examples=3,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(cases(), policies(), st.data())
    def check(case: Case, other: Policy, data: st.DataObject) -> None:
        if data.draw(st.booleans()):
            pair = [with_entitlements(case.policy.policy), with_entitlements(other, version="2")]
        else:
            # Generated entitlements and lists, for some subject kinds only.
            pair = [
                data.draw(with_outcomes(case.policy.policy)),
                data.draw(with_outcomes(other, version="2")),
            ]
        folder = directory / f"case-{next(_COUNTER)}"
        folder.mkdir()
        pq.write_table(records_table(case.rows(), union_attributes(pair)), folder / "r.parquet")
        kinds = {k: "person" if k % 2 else "organization" for k in case.subjects}
        on_spark = run_policies(
            pair, folder, as_of=case.as_of, kinds=kinds, engine="spark", spark=spark
        )
        on_duckdb = run_policies(pair, folder, as_of=case.as_of, kinds=kinds)
        for s, d in zip(on_spark, on_duckdb, strict=True):
            assert s.subjects == d.subjects
        spark_report = compare(*on_spark, as_of=case.as_of).report
        duck_report = compare(*on_duckdb, as_of=case.as_of).report
        # Rule totals now come from the plans on Spark too: sums in another order.
        assert_same_report(spark_report, duck_report)
        # The SQL report, joint plan and per-policy plans, runs on Spark as it does on DuckDB.
        for joint in (True, False):
            in_sql = summarise(
                *pair,
                folder,
                as_of=case.as_of,
                kinds=kinds,
                engine="spark",
                spark=spark,
                joint=joint,
            )
            assert_same_report(in_sql, duck_report)

    check()
