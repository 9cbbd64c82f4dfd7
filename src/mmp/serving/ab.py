"""A/B serving: a champion and a challenger behind one endpoint.

``mmp serve --model REF --challenger REF --split 0.1`` routes each scored record to one of the two
models (per record, so a list request may be answered by both; the response says which answered
each record). The rule:

- a record with an entity key gets a sticky variant: a stable hash of (seed, key) mapped to
  [0, 1), challenger when below the split. The entity key is the online store's key when a store
  is configured (the request always carries it), else the model's id column(s) when the record
  carries all of them (non-null);
- a record without one gets a seeded random draw (``--seed``: the same sequence after a restart).

``--shadow``: the champion answers every record; the challenger scores every request too, off the
request path (a single background thread; its latency is not the client's), and its answers are
only counted (``/metrics``, variant ``shadow``) and handed to the scored-batch listeners.

The settings travel as environment variables (``MMP_CHALLENGER``, ``MMP_AB_SPLIT``,
``MMP_AB_SEED``, ``MMP_AB_SHADOW``), so ``--workers N`` processes and the container get them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema
from mmp.inference.wrapper import ModelWrapper
from mmp.serving.loader import ModelRef, fetched_spec, load_scorer

log = logging.getLogger("mmp.serving.ab")

Variant = Literal["champion", "challenger", "shadow"]  # prediction_log.VARIANTS, the names the log records
CHAMPION: Variant = "champion"
CHALLENGER: Variant = "challenger"
SHADOW: Variant = "shadow"  # scored, not returned
MIXED = "mixed"  # a list request answered by both models (the response's "variant")
DEFAULT_SPLIT = 0.1

CHALLENGER_ENV = "MMP_CHALLENGER"  # any model source --model takes
SPLIT_ENV, SEED_ENV, SHADOW_ENV = "MMP_AB_SPLIT", "MMP_AB_SEED", "MMP_AB_SHADOW"
RESOLVED_CHALLENGER_ENV = "MMP_RESOLVED_CHALLENGER"  # set by `mmp serve` for its workers
SHADOW_BACKLOG = 64  # shadow batches waiting at most; more are dropped (and counted), never queued without bound
TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ABConfig:
    """How traffic is split between the champion and the challenger."""

    split: float = DEFAULT_SPLIT  # share of records the challenger answers (0 < split < 1)
    seed: int = 0
    shadow: bool = False  # the challenger answers nothing; it scores every request in the background

    def __post_init__(self) -> None:
        if not 0.0 < self.split < 1.0:
            raise MMPError(f"--split ({SPLIT_ENV})", f"got {self.split}", "a share strictly between 0 and 1, e.g. 0.1")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ABConfig:
        return cls(
            split=_number(env, SPLIT_ENV, float, DEFAULT_SPLIT),
            seed=_number(env, SEED_ENV, int, 0),
            shadow=env.get(SHADOW_ENV, "").strip().lower() in TRUE,
        )

    def to_env(self) -> dict[str, str]:
        return {SPLIT_ENV: repr(self.split), SEED_ENV: str(self.seed), SHADOW_ENV: "1" if self.shadow else "0"}


def _number(env: Mapping[str, str], name: str, kind: type[float] | type[int], default: float) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise MMPError(name, f"{raw[:40]!r} is not a number", "e.g. 0.1 for the split, 42 for the seed") from None


def stable_unit(seed: int, key: Any) -> float:
    """(seed, key) -> [0, 1), the same in every process and release (Python's hash() is salted
    per process, so it cannot be used: workers would disagree)."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Router:
    """Assigns each record to a variant: sticky by entity key, else a seeded draw."""

    def __init__(self, config: ABConfig, key_columns: Sequence[str]):
        self.config, self.key_columns = config, tuple(key_columns)
        self.rng = random.Random(config.seed)  # random() is one C call: safe across request threads

    def variant(self, key: Any | None) -> Variant:
        if self.config.shadow:
            return CHAMPION
        unit = self.rng.random() if key is None else stable_unit(self.config.seed, key)
        return CHALLENGER if unit < self.config.split else CHAMPION

    def key_of(self, record: Any) -> Any | None:
        """The record's entity key: one value, a tuple for several id columns, None when the
        record lacks one of them."""
        values = tuple(getattr(record, name, None) for name in self.key_columns)
        if not values or any(v is None for v in values):
            return None
        return values[0] if len(values) == 1 else values

    def assign(self, records: Sequence[Any]) -> list[Variant]:
        return [self.variant(self.key_of(r)) for r in records]


def key_columns(schema: InputSchema, store_key: str | None) -> list[str]:
    """What makes a record sticky: the online store's key, else the model's id columns."""
    return [store_key] if store_key else list(schema.id_cols)


@dataclass(frozen=True)
class Model:
    """One loaded variant."""

    ref: ModelRef
    scorer: ModelWrapper


@dataclass(frozen=True)
class ScoredBatch:
    """Records one variant scored, with their positions in the request: what the scored-batch
    listeners (``Service.listeners``: metrics, the prediction log) receive, once per variant per
    request; shadow batches too, from the background thread."""

    variant: Variant
    ref: ModelRef
    records: list[Any]
    positions: list[int]
    result: dict[str, Any]  # {"predictions": [...], "probabilities": [...] (classifiers)}
    raw: Mapping[str, Any]  # the scorer's output columns (arrays), as the prediction log records them
    request_id: str | None = None


@dataclass
class AB:
    """The challenger, the router and the shadow thread of one server."""

    challenger: Model
    config: ABConfig
    router: Router
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="mmp-shadow"))
    backlog: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(SHADOW_BACKLOG))

    def describe(self) -> dict[str, Any]:
        return {
            "split": self.config.split,
            "seed": self.config.seed,
            "shadow": self.config.shadow,
            "sticky_key": list(self.router.key_columns),
        }

    def submit_shadow(self, job: Callable[[], object], dropped: Callable[[], object]) -> None:
        """Run ``job`` on the shadow thread unless SHADOW_BACKLOG jobs already wait."""
        if not self.backlog.acquire(blocking=False):
            dropped()
            return

        def run() -> None:
            try:
                job()
            except Exception as err:  # a failing challenger must never reach a client: one line, no traceback per request
                log.warning("shadow scoring by the challenger failed: %s", str(err)[:300] or type(err).__name__)
            finally:
                self.backlog.release()

        self.executor.submit(run)


def check_interface(champion: InputSchema, challenger: InputSchema, source: str) -> None:
    """Refuse, at start, a challenger that takes other inputs or solves another task."""
    differs = champion.difference(challenger)
    if differs is not None:
        raise MMPError(
            "--challenger", f"{source} cannot answer the champion's requests ({differs})", "a model with the same input interface"
        )


def positions_by_variant(variants: Sequence[Variant]) -> dict[Variant, list[int]]:
    groups: dict[Variant, list[int]] = {}
    for i, v in enumerate(variants):
        groups.setdefault(v, []).append(i)
    return groups


def combine(parts: Sequence[ScoredBatch], n: int) -> dict[str, Any]:
    """The per-variant results put back in request order."""
    if len(parts) == 1:
        return dict(parts[0].result)
    out: dict[str, list[Any]] = {}
    for part in parts:
        for name, values in part.result.items():
            column = out.setdefault(name, [None] * n)
            for i, value in zip(part.positions, values, strict=True):
                column[i] = value
    return out


def route(setup: AB | None, records: Sequence[Any]) -> tuple[list[Variant], dict[Variant, list[int]]]:
    """Each record's variant, and the records' positions per variant (without a challenger: all
    the champion's, without a loop over the records)."""
    if setup is None:
        return [CHAMPION] * len(records), {CHAMPION: list(range(len(records)))}
    variants = setup.router.assign(records)
    return variants, positions_by_variant(variants)


@contextlib.contextmanager
def resolved_challenger(given: str | None, env: Mapping[str, str]) -> Iterator[ModelRef | None]:
    """The challenger for the duration of the block (None when there is none): one the parent
    process already fetched, else ``given`` or MMP_CHALLENGER fetched now."""
    if not given and env.get(RESOLVED_CHALLENGER_ENV):
        yield ModelRef.from_env(env[RESOLVED_CHALLENGER_ENV])
        return
    spec = given or env.get(CHALLENGER_ENV)
    if not spec:
        yield None
        return
    with fetched_spec(spec, env, flag="--challenger") as ref:
        yield ref


def load(ref: ModelRef | None, champion: InputSchema, store_key: str | None, env: Mapping[str, str]) -> AB | None:
    """The A/B setup of a server (None without a challenger): the challenger loaded and checked
    against the champion's inputs."""
    if ref is None:
        if env.get(SPLIT_ENV) or env.get(SHADOW_ENV, "").strip().lower() in TRUE:
            raise MMPError("--split/--shadow", "given without a challenger", "--challenger REF (or MMP_CHALLENGER)")
        return None
    scorer = load_scorer(ref)
    check_interface(champion, scorer.schema, ref.source)
    config = ABConfig.from_env(env)
    return AB(Model(ref, scorer), config, Router(config, key_columns(champion, store_key)))
