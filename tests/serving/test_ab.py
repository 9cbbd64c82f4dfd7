"""A/B serving (champion/challenger, split, sticky, shadow) and GET /metrics, in process: the
routing rule on its own (10,000 draws), then the app with two real packaged models."""

from __future__ import annotations

import argparse
import json
import shutil
import time
import typing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mmp.cli.serve import ab_env
from mmp.core.errors import MMPError
from mmp.core.settings import ServingSettings
from mmp.data import prediction_log
from mmp.serving import ab
from mmp.serving.app import create_app
from tests.serving.conftest import example_record
from tests.serving.test_app import expected


def share(variants: list[str]) -> float:
    return variants.count("challenger") / len(variants)


def test_the_variant_names_are_the_prediction_logs() -> None:
    assert typing.get_args(ab.Variant) == prediction_log.VARIANTS


@pytest.mark.parametrize("keyed", [False, True])
def test_ten_thousand_records_at_split_0_1_give_the_challenger_about_a_tenth(keyed: bool) -> None:
    router = ab.Router(ab.ABConfig(split=0.1, seed=7), [])
    variants = [router.variant(i if keyed else None) for i in range(10_000)]
    assert 0.08 <= share(variants) <= 0.12
    again = ab.Router(ab.ABConfig(split=0.1, seed=7), [])
    assert [again.variant(i if keyed else None) for i in range(10_000)] == variants, "seeded: the same after a restart"


def test_the_same_key_always_gets_the_same_variant_and_the_seed_reshuffles() -> None:
    router = ab.Router(ab.ABConfig(split=0.5, seed=3), [])
    first = {key: router.variant(key) for key in range(200)}
    assert all(router.variant(key) == first[key] for key in range(200) for _ in range(3))
    other = ab.Router(ab.ABConfig(split=0.5, seed=4), [])
    assert [other.variant(k) for k in range(200)] != list(first.values())
    assert ab.Router(ab.ABConfig(split=0.5, seed=3, shadow=True), []).variant(1) == "champion"


def test_split_flags_are_checked_in_one_line() -> None:
    with pytest.raises(MMPError, match=r"--split \(MMP_AB_SPLIT\): got 1.5"):
        ab.ABConfig(split=1.5)
    with pytest.raises(MMPError, match="MMP_AB_SEED"):
        ab.ABConfig.from_env({"MMP_AB_SEED": "x"})
    args = argparse.Namespace(challenger=None, split=0.2, shadow=False, seed=None)
    with pytest.raises(MMPError, match="--split: given without a challenger"):
        ab_env(args)
    args.challenger = "models:/m@challenger"
    assert ab_env(args) == {"MMP_AB_SPLIT": "0.2"}
    assert ab.ABConfig.from_env({**ab_env(args), "MMP_AB_SHADOW": "1"}) == ab.ABConfig(split=0.2, shadow=True)


def test_a_challenger_with_other_inputs_is_refused_at_start(package_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(package_dir, other)
    schema_path = other / "artifacts" / "schema.json"
    schema = json.loads(schema_path.read_text())
    schema["columns"] = [c for c in schema["columns"] if c["name"] != "age"]
    schema_path.write_text(json.dumps(schema))
    with pytest.raises(MMPError, match=r"--challenger: .* cannot answer the champion's requests \(input columns differ: age:float\)"):
        create_app(str(package_dir), settings=ServingSettings(), env={"MMP_CHALLENGER": str(other)})


def ab_app(champion: Path, challenger: Path, **env: str):
    return create_app(str(champion), settings=ServingSettings(), env={"MMP_CHALLENGER": str(challenger), **env})


@pytest.fixture(scope="module")
def split_client(package_dir: Path, challenger_dir: Path) -> TestClient:
    return TestClient(ab_app(package_dir, challenger_dir, MMP_AB_SPLIT="0.5", MMP_AB_SEED="11"))


def records(package_dir: Path, n: int, start: int = 0) -> list[dict]:
    record = example_record(package_dir)
    return [{**record, "customer_id": start + i, "age": 20.0 + i % 60} for i in range(n)]


def test_sticky_by_entity_key_and_each_record_answered_by_its_variant(
    split_client: TestClient, package_dir: Path, challenger_dir: Path
) -> None:
    batch = records(package_dir, 40)
    answers = [split_client.post("/predict", json=r).json() for r in batch]
    assert {a["variant"] for a in answers} == {"champion", "challenger"}
    for _ in range(2):  # the same entity key, the same variant, every time
        assert [split_client.post("/predict", json=r).json()["variant"] for r in batch] == [a["variant"] for a in answers]
    listed = split_client.post("/predict", json=batch).json()
    assert listed["variants"] == [a["variant"] for a in answers] and listed["variant"] == "mixed"
    # each record got its own variant's model's answer, in request order
    by_variant = {"champion": expected(package_dir, batch), "challenger": expected(challenger_dir, batch)}
    for i, (variant, proba) in enumerate(zip(listed["variants"], listed["probabilities"], strict=True)):
        assert proba["1"] == pytest.approx(by_variant[variant]["proba_1"].iloc[i])
    single = answers[listed["variants"].index("challenger")]
    meta = split_client.get("/metadata").json()
    assert single["model_version"] == meta["challenger"]["version"] and "variants" not in single


def test_metadata_shows_both_models_and_the_split(split_client: TestClient, package_dir: Path, challenger_dir: Path) -> None:
    meta = split_client.get("/metadata").json()
    assert meta["ab"] == {"split": 0.5, "seed": 11, "shadow": False, "sticky_key": ["customer_id"]}
    assert meta["challenger"]["source"] == str(challenger_dir) and meta["source"] == str(package_dir)
    assert meta["challenger"]["version"] != meta["version"]


def test_a_keyed_list_splits_close_to_the_share_over_http(package_dir: Path, challenger_dir: Path) -> None:
    client = TestClient(ab_app(package_dir, challenger_dir))  # the default split, 0.1
    variants: list[str] = []
    for start in range(0, 2000, 500):
        variants += client.post("/predict", json=records(package_dir, 500, start)).json()["variants"]
    assert 0.08 <= share(variants) <= 0.12


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus-client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text) for s in family.samples}


def test_shadow_mode_returns_only_the_champions_answers(package_dir: Path, challenger_dir: Path) -> None:
    client = TestClient(ab_app(package_dir, challenger_dir, MMP_AB_SHADOW="1"))
    plain = TestClient(create_app(str(package_dir), settings=ServingSettings(), env={}))
    batch = records(package_dir, 30)
    for body in [*batch[:10], batch]:
        got, want = client.post("/predict", json=body).json(), plain.post("/predict", json=body).json()
        assert got.pop("variant") == want.pop("variant") == "champion"
        assert got == want, "the champion's answers, untouched by the challenger"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the shadow thread scores after the responses
        samples = metric_samples(client.get("/metrics").text)
        if samples.get(("mmp_rows_scored_total", (("variant", "shadow"),))) == 40:
            break
        time.sleep(0.05)
    assert samples[("mmp_rows_scored_total", (("variant", "shadow"),))] == 40
    assert samples[("mmp_rows_scored_total", (("variant", "champion"),))] == 40
    assert ("mmp_rows_scored_total", (("variant", "challenger"),)) not in samples
    assert client.get("/metadata").json()["ab"]["shadow"] is True


def test_metrics_count_requests_rows_latency_and_name_the_models(split_client: TestClient, package_dir: Path) -> None:
    before = metric_samples(split_client.get("/metrics").text)
    split_client.post("/predict", json=records(package_dir, 10))
    split_client.post("/predict", json={"nope": 1})
    split_client.get("/no-such-path")
    res = split_client.get("/metrics")
    assert res.headers["content-type"].startswith("text/plain")
    after = metric_samples(res.text)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("mmp_requests_total", endpoint="/predict", status="200", variant="mixed") == 1
    assert delta("mmp_requests_total", endpoint="/predict", status="422", variant="none") == 1
    assert delta("mmp_requests_total", endpoint="other", status="404", variant="none") == 1
    assert delta("mmp_requests_total", endpoint="/metrics", status="200", variant="none") == 1
    assert delta("mmp_rows_scored_total", variant="champion") + delta("mmp_rows_scored_total", variant="challenger") == 10
    assert delta("mmp_request_duration_seconds_count", endpoint="/predict") == 2
    meta = split_client.get("/metadata").json()
    for variant, model in (("champion", meta), ("challenger", meta["challenger"])):
        assert after[("mmp_model_info", (("name", model["name"]), ("variant", variant), ("version", model["version"])))] == 1


def test_the_ab_app_answers_no_input_with_a_server_error(split_client: TestClient) -> None:
    """schemathesis against what the A/B app changes (routing, /metrics, /metadata): no 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", split_client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in (op for op in operations if op.path in ("/predict", "/metrics", "/metadata")):  # what A/B changes

        @settings(max_examples=10, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"

        check()


def test_the_prediction_log_records_each_records_variant_and_place(package_dir: Path, challenger_dir: Path, tmp_path: Path) -> None:
    """A/B and the log together: a mixed list is logged once per record, each row with the variant
    that answered it, its place in the request and the request id; shadow rows are logged apart."""
    from mmp.data import prediction_log as L

    app = ab_app(package_dir, challenger_dir, MMP_AB_SPLIT="0.5", MMP_AB_SHADOW="1", MMP_PREDICTION_LOG=str(tmp_path / "log"))
    batch = records(package_dir, 20)
    with TestClient(app) as client:  # leaving the block shuts the app down: the log is flushed
        answer = client.post("/predict", json=batch, headers={"X-Request-ID": "ab-1"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the shadow thread scores after the response
            if metric_samples(client.get("/metrics").text).get(("mmp_rows_scored_total", (("variant", "shadow"),))) == 20:
                break
            time.sleep(0.05)
    variants = answer.json()["variants"]
    logged = L.read_parquet_log(tmp_path / "log")
    assert set(logged[L.REQUEST_ID]) == {"ab-1"}
    served = logged[logged[L.VARIANT] != "shadow"].sort_values(L.ROW)
    assert served[L.ROW].tolist() == list(range(20)) and served[L.VARIANT].tolist() == variants
    assert served["customer_id"].tolist() == [r["customer_id"] for r in batch]
    shadow = logged[logged[L.VARIANT] == "shadow"]
    assert sorted(shadow[L.ROW]) == list(range(20))
    assert set(shadow[L.MODEL_VERSION]) == {app.state.service.ab.challenger.ref.version}
