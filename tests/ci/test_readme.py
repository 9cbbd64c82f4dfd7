"""Every ```bash and ```yaml block of README.md is run or validated, so the README cannot rot.

- A ``yaml`` block starts with ``# <path>``: where the README says the file goes. A shipped
  file (it exists in the repository) must contain the block (a block may show an excerpt);
  a new one is written into a temp copy of the repository, and both are composed and checked
  by the project's own config checks, exactly as ``mmp validate`` does.
- A ``bash`` block is split into commands (``\\`` continues a line, ``#`` starts a comment).
  Each command has one entry in ``COVERAGE``, a reviewed table: ``Run`` (really run, in README
  order, in a temp copy), ``DryRun`` (a make target that runs the suite itself: ``make -n``
  proves it exists) or ``Covered`` (too long or needs a service: the existing test that runs
  that command, with the strings that test's file must hold). A command without an entry,
  or an entry no README command uses, fails the test: a new block needs a reviewed entry.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, VENV_BIN, make_repo_copy, pipeline_env

README = ROOT / "README.md"


@dataclass(frozen=True)
class Block:
    line: int  # of the opening ``` fence, 1-based
    lang: str
    text: str

    def where(self) -> str:
        first = next((s for s in self.text.splitlines() if s.strip()), "")
        return f"README.md:{self.line} (```{self.lang} block starting {first.strip()!r})"


@dataclass(frozen=True)
class Command:
    block: Block
    text: str  # comments stripped, whitespace collapsed: the key into COVERAGE


@dataclass(frozen=True)
class Run:
    """Run for real, in README order, in one temp copy (``before``: a set-up the README leaves
    to the reader, such as the user's own CSV it copies)."""

    before: str = ""


@dataclass(frozen=True)
class DryRun:
    """A make target that runs the whole suite or the linters: ``make -n`` shows it exists."""

    why: str


@dataclass(frozen=True)
class Covered:
    """An existing test runs this command (``node``); its file must hold every ``evidence``."""

    node: str
    evidence: tuple[str, ...]
    why: str = ""


def blocks(text: str | None = None) -> list[Block]:
    lines = (README.read_text() if text is None else text).splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(i + 1, fence.group(1), "\n".join(lines[i + 1 : end])))
            i = end
        i += 1
    return found


def commands(block: Block) -> list[Command]:
    found, pending = [], ""
    for line in block.text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = " ".join(re.sub(r"(^|\s)#.*$", "", pending + line).split())
        pending = ""
        if text:
            found.append(Command(block, text))
    return found


def readme_commands() -> list[Command]:
    return [c for b in blocks() if b.lang == "bash" for c in commands(b)]


COVERAGE: dict[str, Run | DryRun | Covered] = {
    # set-up and the suite itself
    "make run": Covered(
        "tests/e2e/test_pipeline.py::test_default_pipeline_produces_every_output", ("default_run",), "make run = setup + `dvc exp run`"
    ),
    "make test": DryRun("the whole suite; CI runs it (.ci/run, ci.yaml)"),
    "make test-fast": DryRun("the unit tier of the suite"),
    "make test-cli": DryRun("the CLI tier of the suite"),
    "make lint": DryRun("ruff, import layers and mypy; CI runs it (.ci/run, ci.yaml)"),
    "make format": Run(),
    "source .venv/bin/activate": Run(),
    # experiments
    "mmp kfp venv": Covered("tests/integration/test_kfp_compile.py::kfp_python", ("ensure_kfp_venv",), "builds a virtualenv from PyPI"),
    "mmp kfp compile --output pipeline.yaml": Covered(
        "tests/integration/test_kfp_compile.py::test_compiled_pipeline_has_dvc_topology_and_a_gated_register", ('"compile", "--output"',)
    ),
    "dvc exp run": Covered("tests/e2e/test_pipeline.py::test_dvc_commands_report_the_experiment", ("default_run",)),
    "dvc exp run -S model=random_forest": Covered(
        "tests/e2e/test_experiments.py::test_model_change_reruns_only_the_model_stages", ('"model=random_forest"',), "at 2,000 rows"
    ),
    "dvc exp run -S model.hyperparameters.n_estimators=500": Covered(
        "tests/e2e/test_experiments.py::test_model_change_reruns_only_the_model_stages",
        ('"model.hyperparameters.n_estimators=20"',),
        "20 trees",
    ),
    "dvc exp run -S data.rows=2000000": Covered(
        "tests/e2e/test_recipes.py::test_every_shipped_recipe_runs_end_to_end", ("data.rows=",), "the same override at a test's size"
    ),
    "dvc exp run -S data=diabetes -S model=lightgbm_regressor": Covered(
        "tests/e2e/test_tracking.py::test_another_dataset_gets_its_own_registered_model",
        ('"data=diabetes", "-S", "model=lightgbm_regressor"',),
    ),
    "dvc exp run --queue -S 'model=lightgbm,random_forest,logistic_regression' && dvc queue start -j 2": Covered(
        "tests/e2e/test_experiments.py::test_queue_of_two_runs_in_parallel", ('"--queue"', '"queue", "start", "-j", "2"'), "a queue of two"
    ),
    "dvc exp run -S model=lightning_mlp": Covered(
        "tests/e2e/test_lightning.py::test_lightning_and_the_mirror_share_one_run_and_the_package_predicts_as_the_estimator",
        ('"model=lightning_mlp"',),
        "at 1,000 rows, 3 epochs",
    ),
    "dvc exp run -S +experiment=uplift": Covered(
        "tests/e2e/test_recipes.py::test_uplift_experiment_runs_end_to_end_and_its_package_serves_effects", ('"+experiment=uplift"',)
    ),
    "dvc exp run -S tune.enabled=true": Covered(
        "tests/e2e/test_tune_pipeline.py::test_tuning_feeds_the_final_fit_and_shows_in_dvc", ('"tune.enabled=true"',)
    ),
    "dvc exp run -S tune.enabled=true -S tune.n_trials=50 -S tune.metric=pr_auc -S tune.pruner=hyperband": Covered(
        "tests/e2e/test_tune_pipeline.py::test_tuning_feeds_the_final_fit_and_shows_in_dvc", ('"tune.enabled=true"',), "fewer trials"
    ),
    "dvc exp run -S tune.enabled=true -S 'tune.families=[lightgbm,random_forest,logistic_regression,mlp]'": Covered(
        "tests/unit/test_automl.py::test_automl_picks_a_family_and_trains_it",
        ("families=families", "tune_stage.main"),
        "the tune stage and train step in-process on small family recipes: a full AutoML dvc run is minutes",
    ),
    "dvc exp run -S +experiment=tab_transformer -S model.pretrain.enabled=true": Covered(
        "tests/config/test_finetune_overrides.py::test_pretrain_overrides_compose_on_the_tab_transformer",
        ('"+experiment=tab_transformer", "model.pretrain.enabled=true"',),
        "composed as `dvc exp run` composes it; tests/unit/test_finetune.py runs the pipeline steps with it",
    ),
    "dvc exp run -S +experiment=tab_transformer -S model.finetune.from=models:/credit-default/7 -S model.finetune.epochs=3": Covered(
        "tests/config/test_finetune_overrides.py::test_finetune_overrides_compose_on_every_torch_recipe",
        ('"+experiment=tab_transformer"', '"model.finetune.from=models:/credit-default@champion", "model.finetune.epochs=2"'),
        "composed as `dvc exp run` composes it; tests/unit/test_finetune.py fine-tunes from a package through the steps",
    ),
    "dvc exp run -S model=extra_trees": Covered(
        "tests/e2e/test_recipes.py::test_a_new_model_and_a_minimal_data_config_run_without_touching_src",
        ('"model=extra_trees"',),
        "the README's recipe, fewer trees",
    ),
    "git checkout HEAD -- params.yaml dvc.lock metrics && git clean -fdq -- metrics && dvc checkout": Covered(
        "tests/e2e/test_outputs.py::test_a_failed_run_prints_the_command_that_restores_the_last_good_state",
        ("RESTORE_COMMAND", "README.md"),
        "the test runs the command the failed stage prints, and checks the README gives the same one",
    ),
    "dvc exp show": Covered("tests/e2e/test_pipeline.py::test_exp_show_stays_legible_and_mmp_exps_fits_120_columns", ('"exp", "show"',)),
    "mmp exps": Covered("tests/e2e/test_pipeline.py::test_exp_show_stays_legible_and_mmp_exps_fits_120_columns", ('"mmp", "exps"',)),
    "dvc metrics diff ; dvc params diff": Covered(
        "tests/e2e/test_experiments.py::test_model_change_reruns_only_the_model_stages",
        ('"dvc", "metrics", "diff"', '"dvc", "params", "diff"'),
    ),
    "dvc plots diff": Run(),
    "dvc metrics show metrics/tune.json": Run(),
    "dvc plots show": Covered(
        "tests/e2e/test_tune_pipeline.py::test_tuning_feeds_the_final_fit_and_shows_in_dvc", ('"dvc", "plots", "show"',)
    ),
    # recipes and validation
    "make params": Run(),
    "mmp validate": Covered(
        "tests/cli/test_validate.py::test_validate_passes_for_the_default_recipe", ('"mmp", "validate"',), "at 500 rows"
    ),
    "mmp validate model=stacking": Run(),
    "mmp validate model=random_forest data=breast_cancer": Run(),
    "mmp validate --no-data +experiment=iris": Run(),
    "cp ~/loans.csv data/raw/loans.csv": Run(),
    "dvc add data/raw/loans.csv": Run(),
    "git add data/raw/loans.csv.dvc data/raw/.gitignore": Run(),
    "mmp validate data=loans": Run(),
    # tuning workers, tracking, registry
    "export MMP_TUNE_STORAGE=postgresql://optuna@db-host/optuna": Covered(
        "tests/integration/test_tune_workers.py::test_two_workers_split_the_trials_without_losing_or_duplicating_any",
        ("MMP_TUNE_STORAGE",),
        "a real PostgreSQL",
    ),
    "mmp tune-worker --threads 1 &": Covered(
        "tests/cli/test_tune_processes.py::test_two_worker_processes_run_exactly_n_trials_between_them",
        ("n_jobs=2",),
        "tune.n_jobs=2 starts two `mmp tune-worker --threads <cores // 2>` processes beside the stage",
    ),
    "mmp tune-worker &": Covered(
        "tests/integration/test_tune_workers.py::test_two_workers_split_the_trials_without_losing_or_duplicating_any", ("tune-worker",)
    ),
    "make mlflow-server &": Covered(
        "tests/e2e/test_tracking.py::test_catching_up_after_the_server_was_down_and_nothing_leaks",
        ("mlflow_server",),
        "the same server command",
    ),
    "APP_ENV=dev dvc exp run": Covered(
        "tests/e2e/test_tracking.py::test_catching_up_after_the_server_was_down_and_nothing_leaks",
        ('"dvc", "exp", "run"',),
        "a tracking server",
    ),
    "APP_ENV=dev mmp mirror --all": Covered(
        "tests/e2e/test_tracking.py::test_catching_up_after_the_server_was_down_and_nothing_leaks", ('"mirror", "--all"',)
    ),
    "mmp promote": Covered("tests/e2e/test_tracking.py::test_promote_gates_the_candidate_and_serves_the_champion", ('"mmp", "promote"',)),
    "dvc push": Covered("tests/e2e/test_experiments.py::test_reproductions_are_byte_identical_and_round_trip_the_remote", ('"push"',)),
    # serving and batch
    "mmp serve --model models:/credit-default@champion": Covered(
        "tests/e2e/test_tracking.py::test_promote_gates_the_candidate_and_serves_the_champion", ("@champion",)
    ),
    "mmp serve --model models/package --port 8080": Covered(
        "tests/cli/test_serve.py::test_serve_with_two_workers_answers_real_requests", ('"serve"',)
    ),
    "mmp serve --model models:/credit-default@champion --host 0.0.0.0 --workers 4": Covered(
        "tests/cli/test_serve.py::test_serve_with_two_workers_answers_real_requests", ('"--workers"',), "two workers, a local package"
    ),
    "MMP_API_TOKEN=secret mmp serve": Covered("tests/serving/test_app.py::test_env_var_contract_of_the_image", ("MMP_API_TOKEN",)),
    'curl -s localhost:8080/predict -H \'content-type: application/json\' -d \'{"loan_amount": 12000, "loan_term_months": 36, '
    '"num_late_payments": 0, "region": "south", "age": 41.0}\'': Covered(
        "tests/cli/test_serve.py::test_serve_with_two_workers_answers_real_requests", ("/predict",), "HTTP requests to a served model"
    ),
    "MMP_ONLINE_STORE=redis MMP_ONLINE_STORE_URL=redis://127.0.0.1:6379/0 mmp materialize": Covered(
        "tests/serving/test_enrichment.py::test_enrichment_from_redis_and_422_for_a_missing_entity", ("materialize",)
    ),
    "MMP_ONLINE_STORE=redis MMP_ONLINE_STORE_URL=redis://127.0.0.1:6379/0 mmp materialize --as-of 2021-10-01": Covered(
        "tests/serving/test_feature_parity.py::test_the_training_join_equals_the_served_features_from_redis", ('"--as-of"',)
    ),
    "dvc exp run -S +experiment=transactions": Covered(
        "tests/unit/test_time_features.py::test_the_transactions_recipe_composes_with_time_features_a_time_split_and_time_series_cv",
        ("+experiment=transactions",),
        "the recipe composed and validated; prepare, featurize, train and package on it in tests/serving/test_feature_parity.py",
    ),
    "MMP_ONLINE_STORE=redis MMP_ONLINE_STORE_URL=redis://127.0.0.1:6379/0 mmp serve --model models/package": Covered(
        "tests/serving/test_enrichment.py::test_enrichment_from_redis_and_422_for_a_missing_entity", ("redis",)
    ),
    "curl -s localhost:8080/predict -H 'content-type: application/json' -d '{\"customer_id\": 17}'": Covered(
        "tests/serving/test_enrichment.py::test_enrichment_from_redis_and_422_for_a_missing_entity", ("customer_id",)
    ),
    "mmp serve --model models:/credit-default@champion --challenger models:/credit-default@challenger --split 0.1": Covered(
        "tests/cli/test_serve.py::test_serve_with_two_workers_answers_real_requests", ('"--challenger"', '"--split"'), "local packages"
    ),
    "mmp serve --model models/package --challenger models:/credit-default@challenger --shadow": Covered(
        "tests/serving/test_ab.py::test_shadow_mode_returns_only_the_champions_answers", ("MMP_AB_SHADOW",), "the env var --shadow sets"
    ),
    "curl -s localhost:8080/metrics": Covered(
        "tests/cli/test_serve.py::test_serve_with_two_workers_answers_real_requests", ('"/metrics"',)
    ),
    # Scale on Dask
    "dvc exp run -S compute=dask": Covered(
        "tests/on_dask/test_pipeline.py::test_dvc_exp_run_compute_dask_packages_the_same_local_model", ('"compute=dask"',)
    ),
    "DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:8786 dvc exp run -S compute=dask": Covered(
        "tests/on_dask/test_cluster.py::test_dask_scheduler_address_connects_to_that_cluster",
        ('"DASK_SCHEDULER_ADDRESS"',),
        "the runtime setting, against a running scheduler",
    ),
    "MMP_TUNE_STORAGE=postgresql://postgres@127.0.0.1/optuna dvc exp run -S compute=dask -S tune.enabled=true -S tune.n_jobs=2": Covered(
        "tests/on_dask/test_tune.py::test_two_dask_workers_run_the_trials_of_one_study",
        ("tune_on_cluster", "n_jobs=2", "postgres_url"),
        "the tune stage's Dask worker loops, on PostgreSQL",
    ),
    "mmp predict --model models/package --input new.parquet --output scored/ --engine dask": Covered(
        "tests/on_dask/test_predict.py::test_mmp_predict_engine_dask", ('"--engine", "dask"',)
    ),
    "mmp predict --model models/package --input new.parquet --output scored.parquet": Covered(
        "tests/cli/test_predict.py::test_scores_a_parquet_file_in_chunks", ('"predict"', ".parquet")
    ),
    "mmp predict --model models/package --input new.parquet --output explained.parquet --explain": Covered(
        "tests/serving/test_explain.py::test_batch_explain_columns", ("ExplainColumns(top_k)",), "in-process batch scoring"
    ),
    "mmp predict --model models/package --input new.parquet --output explained.parquet --explain --top-k 3": Covered(
        "tests/cli/test_predict.py::test_explain_adds_contributions_by_raw_column", ('"--top-k", "3"',)
    ),
    "curl -s 'localhost:8080/explain?k=3' -H 'content-type: application/json' -d '{\"loan_amount\": 12000, \"loan_term_months\": 36, "
    '"num_late_payments": 0, "region": "south", "age": 41.0}\'': Covered(
        "tests/serving/test_explain.py::test_top_k_lists_the_largest_contributions_and_the_rest", ("/explain?k=3",), "in-process requests"
    ),
    "mmp predict --model models:/credit-default@champion --input incoming/ --output scored.csv": Covered(
        "tests/cli/test_predict.py::test_scores_a_csv_directory_to_csv", ("out.csv",), "a directory of CSV files, a local package"
    ),
    "MMP_DB_URL=postgresql://user@host/db mmp predict --model models/package --query 'SELECT * FROM applications WHERE "
    "application_date >= :since' --param since=2024-01-01 --output scored.parquet": Covered(
        "tests/cli/test_predict.py::test_scores_a_sql_query_with_bound_parameters", ("MMP_DB_URL", "--param"), "a real PostgreSQL"
    ),
    "mmp drift --reference models:/credit-default@champion --current logs/predictions/ --since 2024-05-01 --output drift/": Covered(
        "tests/cli/test_drift.py::test_model_reference_against_a_prediction_log_directory",
        ("--since", '"log"'),
        "a local package stands for the registry model: the loader is the one mmp serve uses",
    ),
    "mmp drift --reference data/prepared/train.parquet --current new.csv --exclude customer_id --output drift/": Covered(
        "tests/cli/test_drift.py::test_files_a_planted_category_shift_drifts_that_column_only", ("--exclude", "cur.csv")
    ),
    "mmp drift --reference models/package --current new.parquet --output drift/ --set thresholds.psi=0.3": Covered(
        "tests/cli/test_drift.py::test_model_reference_scores_a_plain_file_and_finds_no_drift", ("thresholds.psi=0.3",)
    ),
    # the daily loop (tests/e2e/test_daily.py: a repository copy with a small promoted champion)
    "mmp daily --date 2026-01-07": Covered("tests/e2e/test_daily.py::test_a_passing_day_records_each_step_once", ('"daily", "--date"',)),
    "mmp daily --date 2026-01-07 --set gate.value=0.75": Covered(
        "tests/e2e/test_daily.py::test_a_day_killed_mid_retrain_continues_and_alerts_without_duplicates", ('"gate.value=1.01"',)
    ),
    "mmp daily --date 2026-01-07 --step gate": Covered(
        "tests/e2e/test_daily.py::test_runbook_commands_run_in_order", ("runbook_commands",)
    ),
    "mmp simulate --days 30 --scenario drift --output simulation/": Covered(
        "tests/e2e/test_simulate.py::test_simulate_scenario",
        ("simulate(repo, out, scenario, days, gate, drift_from)",),  # tests/e2e/conftest.py's `mmp simulate` run
        "30 days take an hour: the test runs 3 per scenario",
    ),
    "MMP_PREDICTION_LOG=predictions/ mmp serve --model models/package": Covered(
        "tests/serving/test_prediction_log.py::test_every_request_is_logged_once_and_sigterm_loses_nothing", ("MMP_PREDICTION_LOG",)
    ),
    "mmp predict --model models/package --input new.parquet --output scored.parquet --log predictions/": Covered(
        "tests/cli/test_predict.py::test_scores_a_parquet_file_in_chunks", ('"--log"',)
    ),
    "mmp label --input labels.parquet --log predictions/": Covered("tests/cli/test_monitoring.py::test_label_then_ab_report", ('"label"',)),
    "mmp label --input outcomes.csv --log predictions/ --on entity": Covered(
        "tests/unit/test_ab.py::test_labels_join_by_entity_key", ('"entity"',), "the join the command runs, in process"
    ),
    "mmp ab-report --log predictions/ --output reports/ab": Covered(
        "tests/cli/test_monitoring.py::test_label_then_ab_report", ('"ab-report"',)
    ),
    "mmp synth fit --output models/distribution": Covered(
        "tests/cli/test_synth.py::test_fit_sample_and_fidelity", ('"fit"',), "training rows of a temp file"
    ),
    "mmp synth sample --model models/distribution --date 2026-01-07 --scenario drift --output day.parquet": Covered(
        "tests/cli/test_synth.py::test_fit_sample_and_fidelity", ('"--scenario", "drift"',)
    ),
    "mmp synth sample --model models/distribution --date 2026-01-07 --knob mean_shift.credit_score=1.5 --knob label_shift=0.3 "
    "--output day.parquet": Covered("tests/cli/test_synth.py::test_fit_sample_and_fidelity", ('"--knob"',)),
    "mmp synth fidelity --real data/prepared/train.parquet --synthetic day.parquet --model models/distribution --output reports/fidelity": Covered(
        "tests/cli/test_synth.py::test_fit_sample_and_fidelity", ('"fidelity"',)
    ),
    "docker build -t mmp-serve .": Covered(
        "tests/cli/test_serve.py::test_the_image_command_serves_the_model_named_by_env_vars",
        ("Dockerfile",),
        "no Docker engine: the image's CMD",
    ),
    "docker run -p 8080:8080 -e MLFLOW_TRACKING_URI=http://mlflow:5000 -e MLFLOW_MODEL_NAME=credit-default -e MLFLOW_MODEL_ALIAS=champion mmp-serve": Covered(
        "tests/serving/test_loader.py::test_model_spec_from_the_environment", ("MLFLOW_MODEL_ALIAS",), "the image's env-var contract"
    ),
    "docker run -p 8080:8080 -v $PWD/models/package:/model -e MMP_MODEL=/model -e MLFLOW_TRACKING_URI=sqlite:////tmp/unused.db mmp-serve": Covered(
        "tests/cli/test_serve.py::test_the_image_command_serves_the_model_named_by_env_vars", ("MMP_MODEL",)
    ),
    "kubectl create secret generic mmp-serve --from-literal=api-token=...": Covered(
        "tests/serving/test_k8s.py::test_the_env_contract_names_the_default_recipes_registered_model_and_the_token_is_a_secret",
        ('"mmp-serve", "key": "api-token"',),
        "no cluster: the Deployment reads the token from this Secret",
    ),
    "kubectl apply -f deploy/k8s/": Covered(
        "tests/serving/test_k8s.py::test_manifests_are_valid_against_the_kubernetes_schemas",
        ("kubernetes_validate.validate",),
        "no cluster: validated offline against the Kubernetes schemas",
    ),
    "dvc exp run -S data.quality.fail_on_leakage=true -S 'data.quality.allow=[application_date]'": Covered(
        "tests/unit/test_quality.py::test_fail_on_leakage_raises_one_line_per_leak_naming_column_rule_and_the_way_out",
        ("fail_on_leakage=True", "allow="),
        "a full pipeline run per setting is slow: the check itself on a tiny frame",
    ),
    # deployments, rollbacks, events
    'mmp deploy --model credit-default --version 3 --reason "hotfix"': Covered(
        "tests/unit/test_deploy.py::test_mmp_deploy_and_rollback_commands", ('"deploy"', '"--version"'), "a temp registry's versions"
    ),
    "mmp rollback --model credit-default": Covered("tests/unit/test_deploy.py::test_mmp_deploy_and_rollback_commands", ('"rollback"',)),
    "mmp rollback --model credit-default --to 2": Covered(
        "tests/unit/test_deploy.py::test_deploys_and_rollbacks_follow_the_recorded_history", ("to=2",), "the function the command runs"
    ),
    "mmp events --kind deployment --since 2026-01-07": Covered(
        "tests/cli/test_events.py::test_mmp_events_lists_filters_and_refuses_a_bad_since", ('"--kind"', '"--since", "2026-01-06"')
    ),
    "mmp events --json --limit 20": Covered(
        "tests/cli/test_events.py::test_mmp_events_lists_filters_and_refuses_a_bad_since", ('"--limit"', '"--json"')
    ),
    # reports and remotes
    "mmp report --base origin/main": Covered(
        "tests/ci/test_report.py::test_make_report_compares_the_workspace_with_a_base_commit", ("report",), "a base commit"
    ),
    "make report BASE=HEAD~1": Covered("tests/ci/test_report.py::test_make_report_compares_the_workspace_with_a_base_commit", ("BASE=",)),
    "mmp report --base HEAD~3 --target HEAD": Covered(
        "tests/ci/test_report.py::test_report_works_between_two_experiments", ('"--target"',)
    ),
    "mmp report --base crisp-tuna --target lumpy-ring --out /tmp/review": Covered(
        "tests/ci/test_report.py::test_report_works_between_two_experiments", ("target_exp", '"--out"'), "two experiments"
    ),
    "dvc remote add -d storage s3://my-bucket/mmp": Run(before="dvc remote remove storage 2>/dev/null || true"),
    "dvc remote modify --local storage access_key_id ...": Run(),
    "dvc remote modify --local storage endpointurl https://minio.example:9000": Run(),
    # the SSH example replaces the S3 one: the same remote name
    "dvc remote add -d storage ssh://me@cache.example.com/srv/dvc": Run(before="rm .dvc/config.local && dvc remote remove storage"),
    "dvc remote modify --local storage keyfile ~/.ssh/id_ed25519": Run(),
}


def test_every_readme_command_has_one_reviewed_entry() -> None:
    problems = [
        f"{c.block.where()}: command {c.text!r} has no entry in COVERAGE (tests/ci/test_readme.py)"
        for c in readme_commands()
        if c.text not in COVERAGE
    ]
    used = {c.text for c in readme_commands()}
    problems += [f"COVERAGE entry {key!r}: no README command any more (remove it)" for key in COVERAGE if key not in used]
    for key, how in COVERAGE.items():
        if isinstance(how, Covered):
            path, _, name = how.node.partition("::")
            source = (ROOT / path).read_text() if (ROOT / path).is_file() else ""
            if not re.search(rf"^(async )?def {re.escape(name)}\(", source, re.M):
                problems.append(f"COVERAGE entry {key!r}: no test {how.node}")
            problems += [f"COVERAGE entry {key!r}: {path} does not hold {e!r}" for e in how.evidence if e not in source]
    assert not problems, "\n".join(problems)


# --- yaml blocks -----------------------------------------------------------------------------


def difference(whole: Any, part: Any, where: str = "") -> str | None:
    """The first dotted key where ``part`` is not ``whole`` or an excerpt of it (mappings: a
    subset of the keys, recursively); None when it is."""
    if isinstance(part, Mapping) and isinstance(whole, Mapping):
        for key, value in part.items():
            if key not in whole:
                return f"{where}{key} (not in the file)"
            found = difference(whole[key], value, f"{where}{key}.")
            if found:
                return found
        return None
    return None if whole == part else f"{where.rstrip('.') or '(root)'} ({part!r} in the README, {whole!r} in the file)"


def config_target(block: Block) -> str | None:
    """Where the block says the file goes: its first line, ``# conf/<...>.yaml``."""
    found = re.match(r"^# (conf/\S+\.yaml)\b", block.text)
    return found.group(1) if found else None


def yaml_blocks() -> list[Block]:
    return [b for b in blocks() if b.lang == "yaml"]


def new_files(repo: Path) -> None:
    """Write the README's new config files (a yaml block whose target is not shipped) where it
    says they go, as a reader following it would: its later commands use them."""
    for block in yaml_blocks():
        target = config_target(block)
        if target and not (ROOT / target).is_file():
            (repo / target).parent.mkdir(parents=True, exist_ok=True)
            (repo / target).write_text(block.text + "\n")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp copy of the repository holding the README's new files (each test may run in its
    own pytest-xdist worker, with its own copy)."""
    repo = make_repo_copy(tmp_path_factory.mktemp("readme") / "repo")
    (repo / ".venv").symlink_to(VENV_BIN.parent)  # `source .venv/bin/activate`
    new_files(repo)
    return repo


def test_every_yaml_block_is_a_valid_config_where_it_says_it_goes(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmp.core.config import Contract, parse
    from mmp.core.monitor import load_monitor
    from mmp.data.daily import load_scenario
    from mmp.ops.params import compose
    from mmp.pipeline.checks import config_problems

    monkeypatch.chdir(copy)  # a data config names its contract in the checkout's conf/contracts
    problems = []
    for block in yaml_blocks():
        target = config_target(block)
        if target is None:
            problems.append(f"{block.where()}: a yaml block starts with `# conf/<where the file goes>.yaml`")
            continue
        if (ROOT / target).is_file():  # shipped: the README shows it, or an excerpt of it
            found = difference(yaml.safe_load((ROOT / target).read_text()), yaml.safe_load(block.text))
            if found:
                problems.append(f"{block.where()}: differs from the shipped {target} at {found}")
        group, name = Path(target).parent.name, Path(target).stem
        try:
            if group == "contracts":
                parse(Contract, yaml.safe_load((copy / target).read_text()))
            elif group == "monitor":  # read by `mmp drift` at run time, not composed into params
                load_monitor(copy, name)
            elif group == "scenario":  # conf/daily/scenario/: read by the daily source at run time
                load_scenario(copy, name)
            else:
                # an overlay (conf/experiment/) is not in the defaults list: it is added, not chosen
                override = f"{'+' if group == 'experiment' else ''}{group}={name}"
                if group == "model" and (yaml.safe_load(block.text) or {}).get("kind", "tabular") != "tabular":
                    override = f"+experiment={pairing_experiment(copy, name)}"  # a kind comes with its own data
                raw = yaml.safe_load(compose(copy, [override]))
                problems += [f"{block.where()}: {e}" for e in config_problems(raw)]
        except Exception as err:  # noqa: BLE001 - every block is reported, not just the first
            problems.append(f"{block.where()}: {err}")
    assert not problems, "\n".join(problems)


def pairing_experiment(copy: Path, model: str) -> str:
    """The shipped experiment that pairs a non-tabular model kind with the data it answers."""
    for path in sorted((copy / "conf" / "experiment").glob("*.yaml")):
        if f"override /model: {model}" in path.read_text():
            return path.stem
    raise AssertionError(f"no conf/experiment/ pairs model={model} with its data")


# --- bash blocks -----------------------------------------------------------------------------

LOANS_CSV = "loan_id,opened_at,amount,defaulted\n" + "".join(
    f"{i},2024-01-{1 + i % 28:02d},{1000 + 37 * i},{int(i % 3 == 0)}\n" for i in range(60)
)


def test_cheap_readme_commands_run_in_a_copy(copy: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / "loans.csv").write_text(LOANS_CSV)  # the user's own file the README copies
    # `make` without its `setup` prerequisite, on the test's venv (setup would build one here);
    # `mmp` from this checkout's src/ (pipeline_env puts the copy's src/ first).
    prelude = (
        f'make() {{ command make --no-print-directory -o setup VENV={shlex.quote(str(VENV_BIN.parent))} "$@"; }}\n'
        f'mmp() {{ {shlex.quote(str(VENV_BIN / "python"))} -m mmp "$@"; }}\n'
    )
    env = pipeline_env(copy, HOME=str(home), COLUMNS="120")
    for command in readme_commands():
        how = COVERAGE.get(command.text)
        if isinstance(how, DryRun):
            target = command.text.split()[1]
            script = f"{prelude}make -n {shlex.quote(target)} >/dev/null"
        elif isinstance(how, Run):
            script = f"{prelude}set -e\n{how.before}\n{command.text}"
        else:
            continue
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        print(f"{time.monotonic() - started:5.1f}s  {command.text}")
        assert proc.returncode == 0, (
            f"{command.block.where()}: `{command.text}` exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
