"""Run the batch plan on Apache Spark (PySpark) over Parquet: the same SQL, the spark dialect.

Locally this is ``local[*]`` mode; on a cluster, pass a session built for it.
The session must keep its SQL time zone at UTC (calendar caps are UTC
periods); ``spark_session`` sets it, and ``run_spark`` refuses any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from credence.engine.plan import BatchPlan
from credence.errors import InputFileError, PlanError, UsageError

_SPARK_TYPES = {"BIGINT": "bigint", "VARCHAR": "string", "DOUBLE": "double", "BOOLEAN": "boolean"}


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError as e:
        raise UsageError(
            "the Spark engine needs PySpark", suggestion="pip install 'credence[spark]'"
        ) from e
    return pyspark.sql


def spark_session(*, master: str = "local[*]", app: str = "credence-batch") -> Any:
    """A SparkSession set up for the plan: UTC session time zone, no UI, few shuffle partitions."""
    sql = _pyspark()
    return (
        sql.SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def run_spark(
    plan: BatchPlan, source: Path | Sequence[str], *, spark: Any | None = None
) -> pa.Table:
    """The plan's result over Parquet input (a directory, such as an export, or files).

    Raises:
        PlanError: when the plan is for another dialect or the session is not in UTC.
        InputFileError: when the input lacks a column or cannot be read.
    """
    session = spark if spark is not None else spark_session()
    result = plan_frame(plan, source, spark=session)
    if hasattr(result, "toArrow"):
        table: pa.Table = result.toArrow()
        return table
    return pa.Table.from_pylist([row.asDict() for row in result.collect()])


def plan_frame(plan: BatchPlan, source: Path | Sequence[str], *, spark: Any) -> Any:
    """The plan's result over Parquet input as a Spark DataFrame, not yet computed.

    Spark runs it when the frame (or a query over it) is collected, so
    several plans' frames can feed one further query.

    Raises:
        PlanError: when the plan is for another dialect or the session is not in UTC.
        InputFileError: when the input lacks a column or cannot be read.
    """
    if plan.dialect != "spark":
        raise PlanError(f"a {plan.dialect} plan cannot run on Spark")
    sql = _pyspark()
    session = spark
    if session.conf.get("spark.sql.session.timeZone") != "UTC":
        raise PlanError(
            "the Spark session's time zone must be UTC for calendar caps",
            suggestion="set spark.sql.session.timeZone=UTC",
        )
    functions = sql.functions
    paths = [str(source)] if isinstance(source, Path) else list(source)
    try:
        frame = (
            session.read.option("basePath", paths[0]).parquet(*paths)
            if (isinstance(source, Path) and source.is_dir())
            else session.read.parquet(*paths)
        )
    except Exception as e:  # Spark raises AnalysisException and Py4J errors alike
        raise InputFileError(f"cannot read the Parquet input: {e}") from e
    available = set(frame.columns)
    columns = []
    for name, sql_type in plan.input_columns:
        spark_type = _SPARK_TYPES[sql_type]
        if name in available:
            columns.append(functions.col(name).cast(spark_type).alias(name))
        elif name.startswith("attr_"):
            columns.append(functions.lit(None).cast(spark_type).alias(name))
        else:
            raise InputFileError(f"the records input has no column {name!r}")
    records = frame.select(*columns)
    records.createOrReplaceTempView("records")
    # Without a single retraction the withdrawn-record join has nothing to do.
    withdrawing = records.where(functions.col("retracts").isNotNull()).limit(1).count() > 0
    return session.sql(plan.sql if withdrawing else plan.unretracted_sql)
