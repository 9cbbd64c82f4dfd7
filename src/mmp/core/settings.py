"""Runtime settings: WHERE things run (tracking URI, database URLs, credentials).

They live in ``conf/env/<APP_ENV>.yaml`` (``local`` by default), are read at run time, may
reference the environment (``${oc.env:VAR}``), and are never written into params.yaml, logs,
MLflow or a model, so switching environment never invalidates the DVC cache.

Each section is a typed model, parsed with the recipe's own rules (``mmp.core.parsing``): an
unknown, missing or wrong setting is one line naming the file and the key. A section is resolved
only when it is first used, so a variable that is not set fails only the feature that needs it
(serving in prod never needs the warehouse password). Values are never quoted in an error: they
come from the environment, where they are secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, model_validator

from mmp.core.db import redact, with_driver
from mmp.core.errors import MMPError
from mmp.core.parsing import Strict, parse

ENVIRONMENTS = ("local", "dev", "prod")


class MirrorSwitches(Strict):
    mirror: bool = True  # mirror in the `mirror` stage at all
    mirror_required: bool = False  # fail the stage when mirroring fails


class MlflowSettings(MirrorSwitches):
    tracking_uri: str = Field(min_length=1)
    experiment: str = Field(default="modern-ml-pipeline", min_length=1)
    # Where a new experiment stores artifacts (None: the tracking server decides).
    artifact_location: str | None = None


class TuneSettings(Strict):
    """The Optuna study storage and the heartbeats that let a restarted worker retry the trial
    of a killed one."""

    storage: str = Field(min_length=1)
    heartbeat_interval: int = Field(default=10, ge=1)
    grace_period: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _grace_covers_a_heartbeat(self) -> TuneSettings:
        if self.grace_period < self.heartbeat_interval:
            raise ValueError("grace_period must be at least heartbeat_interval")
        return self

    @property
    def url(self) -> str:
        """The storage URL with the locked PostgreSQL driver made explicit (``mmp.core.db``)."""
        return with_driver(self.storage, "tune.storage")

    @property
    def label(self) -> str:
        """The URL with any password hidden: the only form ever printed."""
        return redact(self.storage)


class OnlineStoreSettings(Strict):
    """Where ``mmp serve`` looks up stored features of a request's entity."""

    kind: Literal["none", "sql", "redis"] = "none"
    url: str | None = None  # a SQLAlchemy URL (sql) or redis://host:port/db (redis)
    table: str = "mmp_online_features"  # sql store
    prefix: str = "mmp:features:"  # redis store: key = prefix + entity
    key: str | None = None  # default: the model's first id column
    missing_entity_status: Literal[404, 422] = 404

    @model_validator(mode="before")
    @classmethod
    def _status_as_number(cls, raw: Any) -> Any:
        # From the environment the status arrives as text ("422"); a Literal takes no "422".
        status = raw.get("missing_entity_status") if isinstance(raw, Mapping) else None
        if isinstance(status, str) and status.strip().isdigit():
            return {**raw, "missing_entity_status": int(status)}
        return raw

    @model_validator(mode="after")
    def _url_for_a_store(self) -> OnlineStoreSettings:
        if self.kind != "none" and not self.url:
            raise ValueError(f"online_store.url is required for the {self.kind} store (a SQLAlchemy URL or redis://host:port/db)")
        return self


class PredictionLogSettings(Strict):
    """Where ``mmp serve`` and ``mmp predict --log`` write every scored row (``mmp.inference.predlog``):
    nowhere (none), rotating Parquet files in a directory, or a SQL table. Off by default."""

    kind: Literal["none", "parquet", "sql"] = "none"
    path: str | None = None  # parquet: the directory of the log's files
    url: str | None = None  # sql: a SQLAlchemy URL (its password is never printed)
    table: str = Field(default="mmp_prediction_log", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_bytes: int = Field(default=64 * 1024 * 1024, gt=0)  # parquet: a file is closed past this size ...
    max_seconds: float = Field(default=300.0, gt=0)  # ... or this age, whichever comes first
    batch_rows: int = Field(default=5000, gt=0)  # rows per write (a Parquet row group, one INSERT)
    flush_seconds: float = Field(default=1.0, gt=0)  # a batch is written at least this often
    queue_size: int = Field(default=10_000, gt=0)  # scored requests waiting for the writer
    max_wait_ms: float = Field(default=20.0, ge=0)  # a request waits at most this for a full queue, then its rows are dropped (counted)

    @model_validator(mode="after")
    def _where_for_a_log(self) -> PredictionLogSettings:
        if self.kind == "parquet" and not self.path:
            raise ValueError("prediction_log.path (a directory) is required for kind parquet")
        if self.kind == "sql" and not self.url:
            raise ValueError("prediction_log.url (a SQLAlchemy URL) is required for kind sql")
        return self

    def pointed_at(self, target: str | None) -> PredictionLogSettings:
        """These settings writing to ``target`` instead (``--log``, ``MMP_PREDICTION_LOG``): ``none``,
        a SQLAlchemy URL (``scheme://...``: a table) or a directory (``parquet:DIR`` or ``DIR``)."""
        if not target:
            return self
        if target == "none":
            return self.model_copy(update={"kind": "none"})
        if "://" in target:
            return self.model_copy(update={"kind": "sql", "url": target})
        return self.model_copy(update={"kind": "parquet", "path": target.removeprefix("parquet:")})

    @property
    def label(self) -> str:
        """Where the log goes, as it may be printed (a URL's password hidden)."""
        return {"none": "off", "parquet": str(self.path), "sql": f"{redact(self.url or '')} table {self.table}"}[self.kind]


class ServingSettings(Strict):
    # Larger bodies get 413. Unset: what max_records records of the served model need (serving.app.body_limit).
    max_body_bytes: int | None = Field(default=None, gt=0)
    max_records: int = Field(default=10_000, gt=0)  # records per /predict request
    online_store: OnlineStoreSettings = Field(default_factory=OnlineStoreSettings)
    prediction_log: PredictionLogSettings = Field(default_factory=PredictionLogSettings)


class DaskSettings(Strict):
    """Which Dask scheduler ``compute=dask`` uses: ``scheduler_address`` (``DASK_SCHEDULER_ADDRESS``,
    e.g. ``tcp://10.0.0.5:8786``), or none for a ``LocalCluster`` sized by ``conf/compute``."""

    scheduler_address: str | None = None
    connect_timeout: float = Field(default=30.0, gt=0)  # seconds to reach the scheduler


class DatabaseSettings(Strict):
    url: str = Field(min_length=1)


class EventsSettings(Strict):
    """The events store of the daily loop (``mmp.ops.events``): a SQLAlchemy URL and a table."""

    url: str = Field(min_length=1)
    table: str = Field(default="mmp_events", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @property
    def label(self) -> str:
        """Where the events go, as it may be printed (a URL's password hidden)."""
        return f"{redact(self.url)} table {self.table}"


class WebhookSettings(Strict):
    """A JSON POST of every alert to ``url``; off while ``url`` is unset."""

    url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0)  # one request's connect + read limit
    retries: int = Field(default=3, ge=0)  # further tries after a failed one (5xx, 429, no answer)
    backoff_s: float = Field(default=0.5, ge=0)  # the wait before retry n is backoff_s * 2**(n-1)


class EmailSettings(Strict):
    """A mail of every alert over SMTP; off while ``host`` is unset. ``to`` may be one
    comma-separated string (as an environment variable holds it)."""

    host: str | None = None
    port: int = Field(default=25, gt=0, lt=65536)
    sender: str = Field(default="mmp@localhost", min_length=3)
    to: tuple[str, ...] = ()
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _split_recipients(cls, raw: Any) -> Any:
        to = raw.get("to") if isinstance(raw, Mapping) else None
        if isinstance(to, str):
            return {**raw, "to": tuple(t.strip() for t in to.split(",") if t.strip())}
        if to is None and isinstance(raw, Mapping) and "to" in raw:
            return {**raw, "to": ()}
        return raw

    @model_validator(mode="after")
    def _recipients_for_a_host(self) -> EmailSettings:
        if self.host and not self.to:
            raise ValueError("to (one or more addresses, comma-separated) is required when host is set")
        return self


class AlertSettings(Strict):
    """Where alerts go besides the events store and the log, which always get them."""

    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)


SECTIONS = ("mlflow", "serving", "databases", "tune", "events", "alerts", "dask", "llm")
M = TypeVar("M", bound=Strict)


class RuntimeSettings:
    """The settings of one environment file. ``mlflow``, ``tune`` and ``serving`` are typed
    sections and ``database(name)`` one connection, each resolved on first use."""

    def __init__(self, raw: Mapping[str, Any], source: str = "runtime settings"):
        from omegaconf import DictConfig, OmegaConf

        self.source = source
        self._raw = raw if isinstance(raw, DictConfig) else OmegaConf.create(dict(raw))
        unknown = sorted(set(self._raw) - set(SECTIONS))
        if unknown:
            raise MMPError(f"{source}: {unknown[0]}", "unknown key", ", ".join(SECTIONS))

    @cached_property
    def mlflow(self) -> MlflowSettings:
        return self._section(MlflowSettings, "mlflow")

    @cached_property
    def mirroring(self) -> MirrorSwitches:
        """Only ``mlflow.mirror`` and ``mlflow.mirror_required``: whether to mirror is known even
        where the tracking URI cannot be resolved (an offline run with MMP_MIRROR=false)."""
        return self._section(MirrorSwitches, "mlflow", only=tuple(MirrorSwitches.model_fields))

    @cached_property
    def tune(self) -> TuneSettings:
        return self._section(TuneSettings, "tune")

    @cached_property
    def dask(self) -> DaskSettings:
        return self._section(DaskSettings, "dask")

    @cached_property
    def serving(self) -> ServingSettings:
        return self._section(ServingSettings, "serving")

    @cached_property
    def events(self) -> EventsSettings:
        return self._section(EventsSettings, "events")

    @cached_property
    def alerts(self) -> AlertSettings:
        return self._section(AlertSettings, "alerts")

    @cached_property
    def llm(self) -> LlmSettings:
        return self._section(LlmSettings, "llm")

    def database(self, name: str) -> DatabaseSettings:
        """The connection of ``databases.<name>`` (only that one is resolved)."""
        databases = self._raw.get("databases") or {}
        if name not in databases:
            raise MMPError(
                f"{self.source}: databases.{name}.url", f"no connection for database {name!r}", f"set databases.{name}.url in {self.source}"
            )
        return self._section(DatabaseSettings, f"databases.{name}")

    def _section(self, model: type[M], key: str, only: tuple[str, ...] = ()) -> M:
        return parse(model, self._resolve(key, only), key, source=self.source, reveal=False)

    def _resolve(self, key: str, only: tuple[str, ...] = ()) -> Any:
        """The plain values under ``key`` (just the keys ``only`` names, if any), environment
        references read now. A reference that cannot be resolved names the key and the
        variable, never a value."""
        from omegaconf import OmegaConf
        from omegaconf.errors import InterpolationResolutionError

        node = OmegaConf.select(self._raw, key, default=None, throw_on_resolution_failure=False)
        if node is None:
            return {}
        try:
            if only and OmegaConf.is_dict(node):
                return {name: node[name] for name in only if name in node}  # reads only these
            return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        except InterpolationResolutionError as err:
            raise _unresolved(err, f"{self.source}: {getattr(err, 'full_key', None) or key}") from None


def _unresolved(err: Exception, where: str) -> MMPError:
    """A missing variable is named; any other failure (a malformed value) is described without
    quoting OmegaConf's message, which may echo part of the value."""
    missing = re.search(r"Environment variable '([^']+)' not found", str(err))
    if missing:
        return MMPError(
            where, f"cannot be resolved: environment variable {missing.group(1)} is not set", "set the environment variable it references"
        )
    return MMPError(
        where, "cannot be resolved: the value it references does not parse", "a plain value, or fix the environment variable it references"
    )


def repo_root() -> Path:
    """The repository root: ``DVC_ROOT`` during ``dvc exp run`` (so queued runs in DVC's temp
    dirs share one tracking store), else the nearest parent holding dvc.yaml, else the cwd."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists():
            return candidate
    return here


def app_env() -> str:
    env = os.environ.get("APP_ENV", "local")
    if env not in ENVIRONMENTS:
        raise MMPError("APP_ENV", f"unknown environment {env!r}", ", ".join(ENVIRONMENTS))
    return env


def load_settings(env: str | None = None, root: Path | None = None) -> RuntimeSettings:
    """The settings of ``env`` (default ``APP_ENV``) from ``root`` (default the repo root)."""
    from omegaconf import OmegaConf

    env = env or app_env()
    root = root or repo_root()
    path = root / "conf" / "env" / f"{env}.yaml"
    if not path.exists():
        raise MMPError("APP_ENV", f"no settings file conf/env/{env}.yaml", ", ".join(ENVIRONMENTS))
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(repo_root()))
    raw = OmegaConf.load(path)
    if not isinstance(raw, Mapping):
        raise MMPError(f"conf/env/{env}.yaml", "must be a mapping of sections", ", ".join(SECTIONS))
    return RuntimeSettings(raw, f"conf/env/{env}.yaml")


class LlmSettings(Strict):
    """What an LLM model kind needs from the environment: the provider's API key
    (``OPENAI_API_KEY``), a secret, so never printed, logged, in params or in a model."""

    api_key: SecretStr | None = None


# ---- The variables of the product specification that pick a model or the data ------------------
# MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME and OPENAI_API_KEY are runtime settings, read through
# conf/env/<APP_ENV>.yaml above. The ones below are read here, each in one function.

STAGE_ALIASES = {"production": "champion", "staging": "challenger"}  # registry stages, read as aliases
CHAMPION = "champion"
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]+$")
LOADER_TYPES = ("local", "sql", "feature_store")


def model_alias(env: Mapping[str, str] | None = None, default: str | None = CHAMPION) -> str | None:
    """The registry alias a deployment uses: ``MLFLOW_MODEL_ALIAS``, else ``MLFLOW_MODEL_STAGE``
    read as an alias (Production -> champion, Staging -> challenger, any other name lower-cased),
    else ``default``. ``mmp serve`` loads it; ``mmp promote``/``deploy``/``rollback`` move it."""
    env = os.environ if env is None else env
    for variable in ("MLFLOW_MODEL_ALIAS", "MLFLOW_MODEL_STAGE"):
        value = env.get(variable)
        if not value:
            continue
        alias = value if variable == "MLFLOW_MODEL_ALIAS" else STAGE_ALIASES.get(value.lower(), value.lower())
        if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
            raise MMPError(variable, "is not a valid alias name", "letters, digits, _ and -; not 'latest' or v<number>")
        return alias
    return default


def recipe_overrides(env: Mapping[str, str] | None = None) -> list[str]:
    """The Hydra overrides that ``DATA_SOURCE_PATH`` and ``DATA_LOADER_TYPE`` stand for. The data
    source is a recipe value, not a runtime setting: it is composed into params.yaml
    (``mmp params``), so dvc.lock records it and a change re-runs prepare."""
    return [f"{key}={_quoted(value)}" for key, (_var, value) in recipe_values(env).items()]


def recipe_values(env: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """The recipe keys the data variables set: key -> (the variable, the value)."""
    env = os.environ if env is None else env
    path, kind = env.get("DATA_SOURCE_PATH") or None, env.get("DATA_LOADER_TYPE") or None
    if kind is not None and kind not in LOADER_TYPES:
        raise MMPError("DATA_LOADER_TYPE", "unknown loader type", ", ".join(LOADER_TYPES))
    values = {"data.feature_store": ("DATA_LOADER_TYPE", "builtin")} if kind == "feature_store" else {}  # the point-in-time join
    if path is None:
        if kind in ("local", "sql"):
            raise MMPError("DATA_LOADER_TYPE", f"{kind} needs DATA_SOURCE_PATH (the data to load)", _SOURCE_FORMS)
        return values
    is_sql = path.startswith("sql://")
    if kind == "sql" and not is_sql:
        path = f"sql://{path}"  # <database>/<query file>
    elif kind in ("local", "feature_store") and is_sql:
        raise MMPError("DATA_SOURCE_PATH", f"is a sql:// URI but DATA_LOADER_TYPE is {kind}", _SOURCE_FORMS)
    return {"data.source_uri": ("DATA_SOURCE_PATH", path), **values}


def check_recipe_env(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
    """Refuse to run a stage on other data than the data variables ask for: params.yaml was
    composed without them (plain ``dvc exp run``), and silently ignoring them would train on
    the wrong data."""
    for key, (variable, value) in recipe_values(env).items():
        if str(data.get(key.removeprefix("data."))) != value:
            raise MMPError(
                variable, f"asks for another {key} than params.yaml holds", "run `mmp params` (it applies the variable) or unset it"
            )


_SOURCE_FORMS = (
    "local: a path or fsspec URL of a .csv/.parquet/.json file; sql: <database>/<query file> or sql://...; feature_store: as local"
)


def _quoted(value: str) -> str:
    """A Hydra override value, quoted so that any character of a path is taken literally."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
