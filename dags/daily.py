"""The daily loop as an Airflow DAG: one task per step of `mmp daily`, the retry loop as branches.

Each task runs ``mmp daily --date {{ ds }} --step STEP`` in the repository. The day's state is
in the events store, so a task re-run (or a retried one) continues where the day stopped, and
every step is the same code `mmp daily` runs without a scheduler. The branches read each step's
one-line JSON result (the task's XCom): the gate passed -> done; else retrain attempt 1, 2, ...
up to max_attempts, each followed by a branch: passed -> decide (deploy), else the next attempt;
after the last attempt decide raises the alert and fails the run.

Settings, from the scheduler's environment:
  MMP_REPO          the repository (default: the parent of this dags/ folder)
  MMP_COMMAND       how to run mmp (default: mmp)
  MMP_MAX_ATTEMPTS  the retry branches (default 3: conf/daily max_attempts)
  MMP_DAILY_ARGS    extra `mmp daily` arguments, e.g. "--set gate.value=0.75"
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator

REPO = os.environ.get("MMP_REPO", str(Path(__file__).resolve().parents[1]))
MMP = os.environ.get("MMP_COMMAND", "mmp")
MAX_ATTEMPTS = int(os.environ.get("MMP_MAX_ATTEMPTS", "3"))
EXTRA = os.environ.get("MMP_DAILY_ARGS", "")
JOIN = "none_failed_min_one_success"  # a task after a branch: runs when the branch chose it


def step(task_id: str, name: str, attempt: int | None = None, **kwargs: object) -> BashOperator:
    args = f"--step {name}" + (f" --attempt {attempt}" if attempt else "")
    return BashOperator(
        task_id=task_id,
        bash_command=f"cd {shlex.quote(REPO)} && {MMP} daily --date {{{{ ds }}}} {args} --json {EXTRA}",
        do_xcom_push=True,  # the last line of stdout: the step's JSON result
        **kwargs,
    )


def result(ti, task_id: str) -> dict:
    return json.loads(ti.xcom_pull(task_ids=task_id))


def after_gate(ti) -> str:
    return "done" if result(ti, "gate")["outcome"] == "passed" else "retrain_1"


def after_attempt(ti, attempt: int) -> str:
    attempts = result(ti, f"retrain_{attempt}")["attempts"]
    if (attempts and attempts[-1]["passed"]) or attempt == MAX_ATTEMPTS:
        return "decide"
    return f"retrain_{attempt + 1}"


with DAG(
    dag_id="mmp_daily",
    description="The model's daily life: batch, drift, evaluate, gate, retrain, deploy or alert",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two days never run at once: they share the registry and the workspace
    tags=["mmp"],
) as dag:
    chain = [step("batch", "batch"), step("drift", "drift"), step("evaluate", "evaluate"), step("gate", "gate")]
    for upstream, downstream in zip(chain, chain[1:]):
        upstream >> downstream
    branch = BranchPythonOperator(task_id="branch_gate", python_callable=after_gate)
    done = EmptyOperator(task_id="done", trigger_rule=JOIN)
    decide = step("decide", "decide", trigger_rule=JOIN)
    chain[-1] >> branch >> done
    previous = branch
    for n in range(1, MAX_ATTEMPTS + 1):
        attempt = step(f"retrain_{n}", "retrain", n)
        check = BranchPythonOperator(task_id=f"branch_retrain_{n}", python_callable=after_attempt, op_kwargs={"attempt": n})
        previous >> attempt >> check >> decide
        previous = check
