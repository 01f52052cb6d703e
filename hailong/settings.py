"""All configuration, read from the environment in this one module.

Every setting is an environment variable ``HAILONG_<NAME>`` (case-insensitive), e.g.
``HAILONG_KAFKA_BOOTSTRAP=kafka1:9092``. Everything else receives the frozen
:class:`Settings` from :func:`load_settings` and never reads the environment itself.

Leaving ``kafka_bootstrap`` / ``clickhouse_host`` unset means "use the local stack
that ``hailong stack start`` runs under ``.stack/``"; setting them points the whole
platform at an existing cluster, and the stack commands leave that service alone.
``HAILONG_CLUSTER=1`` uses the local stack's cluster profile instead of its single node.

Over 400 lines on purpose: every setting of the platform, each with what it does, in
the one place a deployment reads them from.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hailong.errors import ConfigError
from hailong.methodology import Weights

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Local-stack ports sit away from the services' defaults (9092, 9000, 8123) so that a
# developer's own Kafka or ClickHouse on the same machine is never disturbed.
LOCAL_KAFKA_PORT = 19092
LOCAL_CLICKHOUSE_PORT = 19000
# The local stack's cluster profile (``hailong stack start --cluster``, infra/cluster.py):
# three Kafka brokers (node i: client port 19200 + 10 i, controller +1, internal +2),
# ClickHouse as 2 shards x 2 replicas (server j: native port 19300 + 10 j, HTTP +1,
# replication +2) and one ZooKeeper (19400). Apart from the single node's ports, so a
# developer can keep both profiles' data side by side.
CLUSTER_KAFKA_NODES = 3
CLUSTER_KAFKA_BASE_PORT = 19200
CLUSTER_CLICKHOUSE_SHARDS = 2
CLUSTER_CLICKHOUSE_REPLICAS = 2
CLUSTER_CLICKHOUSE_BASE_PORT = 19300
CLUSTER_ZOOKEEPER_PORT = 19400
LOCAL_CLUSTER_NAME = "hailong"
# The local stack's passwords: refused for any server not on this machine.
DEFAULT_PASSWORD = "hailong"  # noqa: S105 - the local stack's, refused elsewhere
DEFAULT_READONLY_PASSWORD = "city_it"  # noqa: S105
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Settings(BaseSettings):
    """The platform's settings; see the module docstring for how they are set."""

    model_config = SettingsConfigDict(
        env_prefix="HAILONG_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    # --- Kafka ---------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        None, description="host:port list of an existing cluster; unset = local stack"
    )
    topic_prefix: str = Field("", description="prepended to every topic name")
    consumer_group: str = "hailong-streams"
    # Who this process is on Kafka (infra/access.py has the accounts and what each may
    # do). Unset on the local stack: each component uses its own account, whose password
    # the stack keeps in <stack_dir>/kafka/accounts/. On an existing cluster set the
    # account of the process (HAILONG_KAFKA_USER / HAILONG_KAFKA_PASSWORD), e.g. the
    # worker's.
    kafka_user: str | None = None
    kafka_password: SecretStr | None = None
    kafka_security_protocol: Literal["SASL_SSL", "SASL_PLAINTEXT", "SSL", "PLAINTEXT"] = Field(
        "SASL_SSL", description="PLAINTEXT only for a cluster that has no authentication"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_ca_file: Path | None = Field(
        None,
        description="CA certificate(s) of the brokers (PEM); unset: the local "
        "stack's own CA, or the system's CAs for an existing cluster",
    )

    # --- ClickHouse ----------------------------------------------------------------
    clickhouse_host: str | None = Field(None, description="unset = local stack")
    clickhouse_port: int | None = Field(None, description="native protocol port")
    clickhouse_database: str = Field("hailong", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_user: str = "hailong"
    clickhouse_password: SecretStr = SecretStr(DEFAULT_PASSWORD)
    clickhouse_readonly_user: str = "city_it"
    clickhouse_readonly_password: SecretStr = SecretStr(DEFAULT_READONLY_PASSWORD)
    clickhouse_cluster: str | None = Field(
        None,
        description="the ClickHouse cluster (a name in the servers' remote_servers) the "
        "tables are spread over, sharded by office; unset = one server (the local "
        "stack's cluster profile sets its own)",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    clickhouse_alt_hosts: str = Field(
        "",
        description="comma-separated host:port of further ClickHouse servers to connect "
        "to when the first does not answer (the driver's alt_hosts)",
    )
    # City IT's limits on the local stack's server (its profile in infra/clickhouse/
    # users.xml.template; on a server of your own, see warehouse/README.md "Access"):
    # per query memory (the user's total: twice that), time, threads, and how many of its
    # queries run at once (the server runs 64: the rest stay for the platform).
    city_it_max_memory_mb: int = Field(1000, gt=0)
    city_it_max_execution_s: int = Field(60, gt=0)
    city_it_max_threads: int = Field(1, gt=0)
    city_it_max_concurrent_queries: int = Field(4, gt=0, le=32)

    # --- local stack ---------------------------------------------------------------
    stack_dir: Path = PROJECT_ROOT / ".stack"
    cluster: bool = Field(
        False,
        description="the local stack's cluster profile: 3 Kafka brokers (replication "
        "factor 3, min.insync.replicas 2), ZooKeeper and ClickHouse as 2 shards x 2 "
        "replicas (`hailong stack start --cluster` sets it for its own command)",
    )
    kafka_home: Path | None = Field(
        None,
        description="the local broker's folder: its data, TLS files and the platform "
        "accounts' passwords; unset = <stack_dir>/kafka",
    )
    kafka_port: int = LOCAL_KAFKA_PORT
    kafka_controller_port: int = LOCAL_KAFKA_PORT + 1
    # The broker's own listener (inter-broker traffic, and the stack's first set-up of
    # the accounts); bound to 127.0.0.1.
    kafka_internal_port: int = LOCAL_KAFKA_PORT + 2
    kafka_heap_mb: int = 512
    clickhouse_local_port: int = LOCAL_CLICKHOUSE_PORT
    clickhouse_http_port: int = 18123
    service_timeout_s: float = Field(90.0, gt=0)

    # --- stream worker -------------------------------------------------------------
    batch_max_events: int = Field(5000, gt=0)
    # ClickHouse wants few large inserts: about one per second (brief, "Known traps").
    batch_within_s: float = Field(1.0, gt=0)
    retry_backoff_max_s: float = Field(30.0, gt=0)
    # How long a worker that died unannounced (SIGKILL, power loss) keeps its partitions
    # before Kafka hands them to another: 60 s, faust's default, tolerates long pauses.
    session_timeout_s: float = Field(60.0, ge=6)
    # Quarantine (kept, shown to city IT, not counted until a person releases them; see
    # streams/plausible.py): an event more than this far ahead of the broker's timestamp,
    max_clock_skew_s: float = Field(600.0, ge=0)
    # older than this many days before it (0 = no horizon),
    late_horizon_days: float = Field(45.0, ge=0)
    # or of an office the registry does not have on the event's local day.
    quarantine_unregistered: bool = True
    # and every event not signed by a registered device of its office (hailong/signing.py,
    # warehouse/devices.py).
    require_signatures: bool = True
    # A kiosk or camera that sends nothing for this many minutes of office hours is
    # flagged silent (view device_health).
    device_silent_minutes: int = Field(60, gt=0)

    # --- alerts (streams/alert_engine.py, run by the stream worker) -----------------------
    alert_interval_s: float = Field(
        300.0, gt=0, description="how often the worker's alert engine evaluates"
    )
    alerts_enabled: bool = Field(True, description="run the alert engine in the worker")
    alert_routes_file: Path | None = Field(
        None,
        description="the routing table (secrets inside, mode 0600); unset = "
        "<stack_dir>/alerts/routes.json, written by `hailong alerts routes load`",
    )
    alert_digest_hour: int = Field(7, ge=0, le=23, description="local hour of the daily digest")
    smtp_host: str | None = Field(None, description="SMTP server for alert e-mail")
    smtp_port: int = Field(25, gt=0)
    smtp_from: str = "hailong@localhost"
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")

    # --- kiosk client (hailong kiosk) -------------------------------------------------
    kiosk_spool_dir: Path | None = Field(
        None, description="where each device's spool lives; unset = <stack_dir>/kiosk"
    )
    kiosk_spool_max_events: int = Field(
        1_000_000, gt=0, description="ratings a spool holds before it refuses new ones"
    )

    # --- QR gateway (hailong gateway) --------------------------------------------------
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 18700
    gateway_public_url: str | None = Field(
        None, description="base URL citizens' phones reach; unset = http://host:port"
    )
    gateway_secret: SecretStr | None = Field(
        None, description="HMAC key of QR tokens; unset = generated once in the stack dir"
    )
    gateway_issue_per_minute: int = Field(
        60, gt=0, description="survey tokens an office's issuer may ask for a minute"
    )
    gateway_registry_refresh_s: float = Field(
        30.0, ge=0, description="how stale the gateway's copy of the issuer tokens may be"
    )
    gateway_token_ttl_h: float = Field(72.0, gt=0)
    gateway_max_body_bytes: int = Field(16_384, gt=0)
    gateway_rate_per_minute: int = Field(30, gt=0, description="requests per client address")
    gateway_trusted_proxies: str = Field(
        "",
        description="comma-separated proxy addresses whose X-Forwarded-For is believed; "
        "empty: none",
    )

    # --- camera adapter (hailong camera) -----------------------------------------------
    camera_host: str = "127.0.0.1"
    camera_port: int = 18710
    camera_rate_per_minute: int = Field(600, gt=0, description="webhook requests per camera")
    camera_registry_refresh_s: float = Field(
        30.0, ge=0, description="how stale the adapter's copy of the camera tokens may be"
    )

    # --- methodology ---------------------------------------------------------------
    # e.g. HAILONG_WEIGHTS__QR=0.6
    weights: Weights = Weights()
    min_sample: int = Field(30, ge=0, description="K_n + Q_n needed to be ranked")
    bootstrap_seed: int = Field(20250701, description="seed of the ranking intervals")
    bootstrap_resamples: int = Field(1000, ge=1)
    report_dir: Path | None = Field(
        None, description="where ranking reports are written; unset = <stack_dir>/reports"
    )

    @model_validator(mode="after")
    def _check_default_passwords(self) -> Settings:
        """The default ClickHouse passwords are only for a server on this machine."""
        if self.clickhouse_host is not None and self.clickhouse_host not in LOOPBACK:
            defaults = [
                name
                for name, value, default in (
                    ("HAILONG_CLICKHOUSE_PASSWORD", self.clickhouse_password, DEFAULT_PASSWORD),
                    (
                        "HAILONG_CLICKHOUSE_READONLY_PASSWORD",
                        self.clickhouse_readonly_password,
                        DEFAULT_READONLY_PASSWORD,
                    ),
                )
                if value.get_secret_value() == default
            ]
            if defaults:
                raise ValueError(
                    f"refusing the default password(s) {', '.join(defaults)} for ClickHouse "
                    f"at {self.clickhouse_host}: they are for a server bound to 127.0.0.1 "
                    "only; set your own"
                )
        return self

    @model_validator(mode="after")
    def _check_prefix(self) -> Settings:
        if self.topic_prefix and not all(c.isalnum() or c in "._-" for c in self.topic_prefix):
            raise ValueError("topic_prefix may hold only letters, digits, '.', '_', '-'")
        return self

    # Derived values -------------------------------------------------------------------
    @property
    def local_kafka(self) -> bool:
        """True when the platform uses the Kafka broker of the local stack."""
        return self.kafka_bootstrap is None

    @property
    def local_clickhouse(self) -> bool:
        """True when the platform uses the ClickHouse server of the local stack."""
        return self.clickhouse_host is None

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        if self.cluster:
            return ",".join(f"127.0.0.1:{port}" for port in cluster_kafka_ports())
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def ch_cluster(self) -> str | None:
        """The ClickHouse cluster the tables are spread over (None: one server)."""
        if self.clickhouse_cluster is not None:
            return self.clickhouse_cluster
        return LOCAL_CLUSTER_NAME if self.cluster and self.local_clickhouse else None

    @property
    def ch_alt_hosts(self) -> str:
        """The further servers the driver may connect to (``host:port,...``)."""
        if self.clickhouse_alt_hosts or not (self.cluster and self.local_clickhouse):
            return self.clickhouse_alt_hosts
        return ",".join(f"127.0.0.1:{port}" for port in cluster_clickhouse_ports()[1:])

    @property
    def alert_routes_path(self) -> Path:
        return self.alert_routes_file or self.stack_dir / "alerts" / "routes.json"

    @property
    def kafka_ca(self) -> Path | None:
        """The CA file that vouches for the brokers' certificates (None: the system's)."""
        if self.kafka_ca_file is not None:
            return self.kafka_ca_file
        return self.kafka_dir / "tls" / "ca.pem" if self.local_kafka else None

    @property
    def kafka_dir(self) -> Path:
        return self.kafka_home or self.stack_dir / "kafka"

    @property
    def ch_host(self) -> str:
        return self.clickhouse_host or "127.0.0.1"

    @property
    def ch_port(self) -> int:
        if self.clickhouse_port is not None:
            return self.clickhouse_port
        if not self.local_clickhouse:
            return 9000
        return cluster_clickhouse_ports()[0] if self.cluster else self.clickhouse_local_port

    def key(self, name: str) -> str:
        """A secret setting (``gateway_secret``): its value when set, else a random key
        generated once and
        kept in ``<stack_dir>/keys/<name>`` (mode 0600), so a single machine works out of
        the box and keeps its keys across restarts. Set them explicitly in production."""
        value = getattr(self, name)
        if value is not None:
            return str(value.get_secret_value())
        return self.stack_secret(name)

    def stack_secret(self, name: str, folder: Path | None = None) -> str:
        """A random secret generated once and kept in ``<stack_dir>/keys/<name>`` (or
        ``folder/<name>``; mode 0600): the local stack's keys and passwords."""
        path = (folder or self.stack_dir / "keys") / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip()

    @property
    def reports(self) -> Path:
        return self.report_dir or self.stack_dir / "reports"

    @property
    def spool_dir(self) -> Path:
        return self.kiosk_spool_dir or self.stack_dir / "kiosk"

    @property
    def gateway_url(self) -> str:
        return (
            self.gateway_public_url or f"http://{self.gateway_host}:{self.gateway_port}"
        ).rstrip("/")

    def environment(self) -> dict[str, str]:
        """The ``HAILONG_*`` variables that give a child process these settings: every
        setting that was set (by the environment or explicitly), secrets included, so
        the result goes to a child process only, never to a log."""
        env = {}
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, BaseModel):
                value = value.model_dump_json()
            env[f"HAILONG_{name.upper()}"] = str(value)
        return env

    def child_environment(self) -> dict[str, str]:
        """The environment of a child process that should run with these settings: this
        process's environment with :meth:`environment` on top (the one map from settings
        to variables; the worker launcher, the tests and the benchmarks use it)."""
        return {**os.environ, **self.environment()}

    @cached_property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


def cluster_kafka_ports() -> list[int]:
    """The client ports of the cluster profile's brokers (node ids 1, 2, 3)."""
    return [CLUSTER_KAFKA_BASE_PORT + 10 * i for i in range(1, CLUSTER_KAFKA_NODES + 1)]


def cluster_clickhouse_ports() -> list[int]:
    """The native ports of the cluster profile's ClickHouse servers: shard 1's two
    replicas, then shard 2's."""
    count = CLUSTER_CLICKHOUSE_SHARDS * CLUSTER_CLICKHOUSE_REPLICAS
    return [CLUSTER_CLICKHOUSE_BASE_PORT + 10 * j for j in range(count)]


class Topics:
    """Topic names of wire contract v1, with the configured prefix."""

    def __init__(self, prefix: str) -> None:
        self.kiosk = f"{prefix}satisfaction.kiosk.v1"
        self.qr = f"{prefix}satisfaction.qr.v1"
        self.camera = f"{prefix}satisfaction.camera.v1"
        self.deadletter = f"{prefix}satisfaction.deadletter.v1"
        # Not a device's: the alert engine's output (streams/alert_engine.py, schema alert/1).
        self.alerts = f"{prefix}satisfaction.alerts.v1"

    @property
    def events(self) -> tuple[str, str, str]:
        """The three topics devices publish to."""
        return (self.kiosk, self.qr, self.camera)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides) into frozen settings."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid HAILONG_* settings:\n{exc}") from exc
