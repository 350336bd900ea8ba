"""The Spark runner passes the same online/batch property as DuckDB, in local mode.

Without PySpark these tests skip, except under CI=true, where that is a failure.
One SparkSession is shared by every test here; the example count is small so
the whole file stays well under 90 seconds.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from credence.batch.export import records_table
from credence.engine import compile_policy
from credence.engine.plan import build_plan
from credence.errors import PlanError
from tests.batch.batch_strategies import Case, assert_agrees, cases, tiny_policy

_COUNTER = itertools.count()


def _need_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        message = "Spark tests need PySpark: pip install 'credence[spark]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true a skipped Spark test is a failure: {message}")
        pytest.skip(message)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    _need_pyspark()
    from credence.batch.spark_runner import spark_session

    session = spark_session(master="local[1]", app="credence-tests")
    session.conf.set("spark.sql.shuffle.partitions", "1")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def run_case(case: Case, spark: Any, directory: Path) -> list[dict[str, Any]]:
    from credence.batch.spark_runner import run_spark

    plan = build_plan(case.policy, as_of=case.as_of, dialect="spark")
    path = directory / f"records-{next(_COUNTER)}.parquet"
    pq.write_table(records_table(case.rows(), plan.attributes), path)
    return list(run_spark(plan, [str(path)], spark=spark).to_pylist())


def test_spark_batch_equals_online(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("spark")

    @settings(
        max_examples=8,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(cases())
    def check(case: Case) -> None:
        assert_agrees(case, run_case(case, spark, directory))

    check()


def test_spark_refuses_a_duckdb_plan(spark: Any) -> None:
    from credence.batch.spark_runner import run_spark

    plan = build_plan(compile_policy(tiny_policy()), as_of=0)
    with pytest.raises(PlanError):
        run_spark(plan, [], spark=spark)
