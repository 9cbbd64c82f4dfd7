"""Seeded generators of realistic tables: credit default (the embedded default dataset) and a
marketing campaign with a known treatment effect (uplift).

The default probability is a logistic function of the applicant's features (credit score, debt
to income, late payments, employment, income, loan size and credit history), with an intercept
chosen so that about 10% of rows default. Missing values are injected at realistic rates.
Vectorised, so 2M rows take a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired", "student"]
REGIONS = ["north", "south", "east", "west", "central"]
HOMES = ["rent", "own", "mortgage"]
START = np.datetime64("2021-01-01")


def credit_default(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(42, 12, rows).clip(18, 90).round()
    employment = rng.choice(EMPLOYMENT, rows, p=[0.62, 0.16, 0.06, 0.10, 0.06])
    income = np.exp(rng.normal(10.8, 0.55, rows)) * np.select([employment == "unemployed", employment == "student"], [0.35, 0.45], 1.0)
    loan_amount = np.exp(rng.normal(9.4, 0.8, rows)).round(-1)
    term = rng.choice([12, 24, 36, 60], rows, p=[0.15, 0.30, 0.35, 0.20])
    history_years = rng.gamma(2.0, 4.0, rows).clip(0, age - 18)
    credit_score = (rng.normal(660, 70, rows) + 6 * history_years).clip(300, 850).round()
    debt_to_income = (rng.gamma(2.0, 0.12, rows) + loan_amount / term / (income / 12) * 0.5).round(4)
    late = rng.poisson(np.clip((720 - credit_score) / 90, 0.05, None))
    region = rng.choice(REGIONS, rows, p=[0.22, 0.24, 0.18, 0.20, 0.16])
    home = rng.choice(HOMES, rows, p=[0.38, 0.22, 0.40])
    applied = START + rng.integers(0, 3 * 365, rows).astype("timedelta64[D]")
    first_credit = applied - (history_years * 365.25).astype("timedelta64[D]")

    logit = (
        -2.45
        - 0.012 * (credit_score - 660)
        + 1.6 * (debt_to_income - 0.35)
        + 0.45 * late
        - 0.35 * (np.log(income) - 10.8)
        + 0.25 * (np.log(loan_amount) - 9.4)
        + 0.012 * (term - 30)
        - 0.05 * history_years
        + np.select([employment == "unemployed", employment == "student", employment == "self_employed"], [1.0, 0.4, 0.25], 0.0)
        + np.where(home == "own", -0.3, 0.0)
        + np.where(region == "south", 0.15, 0.0)
    )
    default = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int64")

    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1, dtype="int64"),
            "application_date": applied.astype("datetime64[ns]"),
            "age": age,
            "income": income.round(2),
            "loan_amount": loan_amount,
            "loan_term_months": term.astype("int64"),
            "credit_score": credit_score,
            "debt_to_income": debt_to_income,
            "num_late_payments": late.astype("int64"),
            "employment_type": employment,
            "region": region,
            "home_ownership": home,
            "first_credit_date": first_credit.astype("datetime64[ns]"),
            "default": default,
        }
    )
    return _inject_missing(frame, rng)


def _inject_missing(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rates = {
        "age": 0.02,
        "income": 0.06,
        "credit_score": 0.04,
        "debt_to_income": 0.03,
        "employment_type": 0.03,
        "home_ownership": 0.05,
        "first_credit_date": 0.02,
    }
    for column, rate in rates.items():
        mask = rng.random(len(frame)) < rate
        frame[column] = frame[column].mask(mask)
    return frame


# Two related tables for the feature-view and time-feature recipe (conf/experiment/transactions):
# card transactions per customer (the training rows, labelled fraud or not) and a customer profile
# that changes over time (the feature view, about monthly snapshots with gaps).
CUSTOMERS = 300
CATEGORIES = ["grocery", "travel", "online", "fuel", "restaurant"]


def customer_profile(rows: int, seed: int) -> pd.DataFrame:
    """Monthly-ish snapshots of each customer's risk score and balance (``rows`` is ignored: one
    year of snapshots of 300 customers); a quarter of the snapshots are missing, so a short TTL
    leaves some transactions without a profile."""
    rng = np.random.default_rng(seed + 1)
    months = 13
    ids = np.repeat(np.arange(1, CUSTOMERS + 1, dtype="int64"), months)
    month = np.tile(np.arange(months), CUSTOMERS)
    stamp = START - np.timedelta64(30, "D") + (month * 30 + rng.integers(0, 30, ids.size)).astype("timedelta64[D]")
    walk = rng.normal(0, 0.08, (CUSTOMERS, months)).cumsum(axis=1) + rng.uniform(0.1, 0.6, (CUSTOMERS, 1))
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "updated_at": stamp.astype("datetime64[ns]"),
            "risk_score": walk.ravel().clip(0, 1).round(4),
            "balance": np.exp(rng.normal(8, 1, ids.size)).round(2),
        }
    )
    return frame[rng.random(len(frame)) >= 0.25].reset_index(drop=True)


def transactions(rows: int, seed: int) -> pd.DataFrame:
    """Card transactions (``rows``, 6,000 by default) of 300 customers over a year, stamped to
    the hour (so one customer has several at the same time). Fraud is likelier for a risky
    profile at that time, an amount far above the customer's usual and a quick succession."""
    from mmp.core.config import FeatureView, ViewSource
    from mmp.data.feature_views import point_in_time_join

    rows = rows or 6000
    rng = np.random.default_rng(seed)
    customer = rng.integers(1, CUSTOMERS + 1, rows).astype("int64")
    usual = np.exp(rng.normal(3.5, 0.6, CUSTOMERS + 1))[customer]
    amount = (usual * np.exp(rng.normal(0, 0.7, rows)) * np.where(rng.random(rows) < 0.05, 6.0, 1.0)).round(2)
    at = (START + rng.integers(0, 365 * 24, rows).astype("timedelta64[h]")).astype("datetime64[ns]")
    frame = pd.DataFrame({"customer_id": customer, "ts": at, "amount": amount, "category": rng.choice(CATEGORIES, rows)})
    view = FeatureView(
        name="profile", entity="customer_id", event_time="updated_at", features=["risk_score"], ttl="45d", source=ViewSource(uri="-")
    )
    risk = point_in_time_join(frame, "ts", customer_profile(0, seed), view)["risk_score"].fillna(0.5).to_numpy()
    ordered = frame.sort_values(["customer_id", "ts"], kind="stable")
    gap = ordered.groupby("customer_id")["ts"].diff().dt.total_seconds().reindex(frame.index).fillna(1e9).to_numpy()
    logit = -4.0 + 3.0 * risk + 1.5 * (amount > 3 * usual) + 1.2 * (gap < 6 * 3600) + np.where(frame["category"] == "online", 0.4, 0.0)
    frame["fraud"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


CHANNELS = ["web", "app", "store"]


def marketing_uplift(rows: int, seed: int) -> pd.DataFrame:
    """A randomised marketing campaign: half the customers (at random) get an offer
    (``treatment``), and ``spend`` is next month's spend. The offer's effect on each customer
    is known, ``true_effect`` (recent, engaged app customers respond; loyal big spenders would
    buy anyway), so an uplift model can be scored against the truth (PEHE). Only the features
    go into a model: the treatment and the true effect are declared as such in the data config."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, rows).clip(18, 85).round()
    tenure = rng.gamma(2.0, 12.0, rows).round()
    visits = rng.poisson(4, rows).astype("int64")
    past_spend = np.exp(rng.normal(4.0, 0.6, rows)).round(2)
    recency = rng.exponential(30, rows).round()
    channel = rng.choice(CHANNELS, rows, p=[0.45, 0.35, 0.20])
    treatment = (rng.random(rows) < 0.5).astype("int64")

    effect = 2.0 + 1.5 * (visits - 4) / 2 - 2.5 * (recency > 45) + np.where(channel == "app", 3.0, 0.0) - 1.5 * (np.log(past_spend) - 4.0)
    baseline = 3.0 + 0.1 * past_spend + 0.03 * tenure - 0.03 * recency + 0.5 * visits + np.where(channel == "store", 1.5, 0.0)
    # not clipped at 0 (a few rows net a refund): a clip would change the known effect
    spend = baseline + treatment * effect + rng.normal(0, 2.0, rows)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1, dtype="int64"),
            "age": age,
            "tenure_months": tenure,
            "visits_last_month": visits,
            "past_spend": past_spend,
            "days_since_purchase": recency,
            "channel": channel,
            "treatment": treatment,
            "spend": spend.round(4),
            "true_effect": effect.round(6),
        }
    )
