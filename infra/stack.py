"""The local stack: one Kafka broker and one ClickHouse server under ``.stack/``.

Over 400 lines on purpose: the lifecycle of the two local services (config, start, wait,
status, stop, reset) and their shared process handling, one class each.

``hailong stack install|start|stop|status|reset`` call into this module. Every
command is idempotent: starting a running service does nothing, stopping a stopped
one does nothing. Data stays in ``.stack/`` across restarts until ``reset``.

A service configured to an existing cluster (``HAILONG_KAFKA_BOOTSTRAP``,
``HAILONG_CLICKHOUSE_HOST``) is not started here; ``status`` still checks it answers.

Processes run in their own session, so they outlive the command that started them;
their pid is kept in ``<service>/pid`` and their output in ``<service>/logs``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from string import Template

from hailong.errors import ServiceNotReady, StackError
from hailong.settings import Settings

INFRA_DIR = Path(__file__).resolve().parent
CLICKHOUSE_BINARY_CANDIDATES = ("clickhouse-server", "/usr/sbin/clickhouse-server", "clickhouse")
Progress = Callable[[str], None]


def default_signals() -> None:
    """Child-process set-up: default handling of SIGTERM/SIGINT/SIGHUP.

    A process started from a shell job or CI runner may inherit *ignored* signals, and a
    JVM that starts with SIGTERM ignored never runs its shutdown: `stop` would have to
    kill it. Passed as ``preexec_fn`` to every service and worker the project spawns.
    """
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text("utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) still answers kill(0); look closer.
    with suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


@dataclass
class ServiceStatus:
    name: str
    mode: str  # "local" or "external"
    running: bool
    detail: str


class _LocalService:
    """Common process handling of a service that runs from ``.stack/<name>``."""

    name = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = self.folder(settings)
        self.pid_file = self.home / "pid"
        self.log_dir = self.home / "logs"

    def folder(self, settings: Settings) -> Path:
        return settings.stack_dir / self.name

    # -- to be provided by subclasses --------------------------------------------
    @property
    def external(self) -> bool:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _prepare(self, progress: Progress) -> None:
        """Write config files, format storage: whatever precedes the first start."""

    def answers(self) -> bool:
        """True when the service really answers a request."""
        raise NotImplementedError

    def _ready(self, progress: Progress) -> None:
        """What follows every start, once the service answers (idempotent)."""

    @property
    def main_log(self) -> Path:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, progress: Progress = print) -> None:
        """Start the service unless it is external or already running; wait until it answers."""
        if self.external:
            progress(f"{self.name}: external, not started here")
            return
        self.await_ready(progress, self.launch(progress))

    def launch(self, progress: Progress = print) -> subprocess.Popen[bytes] | None:
        """Start the process unless it runs already, without waiting for it to answer (a
        cluster's nodes answer only once a quorum of them runs)."""
        if self.pid() is not None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._prepare(progress)
        out = (self.log_dir / "stdout.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - fixed command built from settings
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,  # outlive this command; not killed by its Ctrl-C
            preexec_fn=default_signals,
        )
        out.close()
        self.pid_file.write_text(str(proc.pid))
        progress(f"{self.name}: starting (pid {proc.pid}) ...")
        return proc

    def await_ready(
        self, progress: Progress = print, proc: subprocess.Popen[bytes] | None = None
    ) -> None:
        """Wait until the service answers (``proc``: the process :meth:`launch` started,
        None when it was running already), then do what follows every start."""
        self._wait_ready(progress, proc)
        self._ready(progress)
        if proc is None:
            progress(f"{self.name}: already running (pid {self.pid()})")
        else:
            progress(f"{self.name}: ready")

    def _wait_ready(self, progress: Progress, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.settings.service_timeout_s
        while time.monotonic() < deadline:
            if self.answers():
                return
            pid = self.pid()
            if pid is None or (proc is not None and proc.poll() is not None):
                raise ServiceNotReady(
                    f"{self.name} exited during start-up. Last lines of {self.main_log}:\n"
                    f"{_tail(self.main_log)}\n--- {self.log_dir / 'stdout.log'}:\n"
                    f"{_tail(self.log_dir / 'stdout.log')}"
                )
            time.sleep(0.5)
        raise ServiceNotReady(
            f"{self.name} did not answer within {self.settings.service_timeout_s:.0f} s. "
            f"Last lines of {self.main_log}:\n{_tail(self.main_log)}"
        )

    def stop(self, progress: Progress = print, timeout: float = 60.0) -> None:
        """Stop the local process gracefully (SIGTERM), forcefully after ``timeout``."""
        pid = self.pid()
        if pid is None:
            progress(f"{self.name}: not running")
            self.pid_file.unlink(missing_ok=True)
            return
        progress(f"{self.name}: stopping (pid {pid}) ...")
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            progress(f"{self.name}: did not stop in {timeout:.0f} s, killing")
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        progress(f"{self.name}: stopped")

    def status(self) -> ServiceStatus:
        if self.external:
            ok = self.answers()
            return ServiceStatus(self.name, "external", ok, "answers" if ok else "does not answer")
        pid = self.pid()
        if pid is None:
            return ServiceStatus(self.name, "local", False, "not running")
        ok = self.answers()
        return ServiceStatus(
            self.name, "local", ok, f"pid {pid}, " + ("answers" if ok else "does not answer")
        )

    def reset(self, progress: Progress = print) -> None:
        """Stop the service and delete all its data (keeps installed binaries/jars)."""
        if self.external:
            progress(f"{self.name}: external, nothing to reset here")
            return
        self.stop(progress)
        for sub in self._data_dirs():
            shutil.rmtree(sub, ignore_errors=True)
        progress(f"{self.name}: data wiped")

    def _data_dirs(self) -> Iterator[Path]:
        yield self.home / "data"
        yield self.log_dir


class Kafka(_LocalService):
    """Apache Kafka 4.0 in KRaft combined mode, from the jars ``install`` copies."""

    name = "kafka"

    def folder(self, settings: Settings) -> Path:
        return settings.kafka_dir

    @property
    def external(self) -> bool:
        return not self.settings.local_kafka

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def main_log(self) -> Path:
        return self.log_dir / "server.log"

    def install(self, progress: Progress = print) -> None:
        """Copy the broker's jars from Maven Central (via ``infra/kafka/pom.xml``)."""
        maven_jars(INFRA_DIR / "kafka" / "pom.xml", self.libs, "kafka", progress)

    @staticmethod
    def java_prefix(libs: Path, heap_mb: int) -> list[str]:
        """``java`` with a heap and the jars of ``libs`` on the class path (the brokers
        and ZooKeeper)."""
        java = shutil.which("java")
        if java is None:
            raise StackError("Java 17+ is needed: apt-get install openjdk-17-jre-headless")
        if not (libs / ".installed").exists():
            raise StackError(f"jars are missing in {libs}: run `hailong stack install` first")
        return [
            java,
            f"-Xms{min(heap_mb, 256)}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
        ]

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            *self.java_prefix(self.libs, self.settings.kafka_heap_mb),
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={INFRA_DIR / 'kafka' / 'log4j2.properties'}",
            main,
            *args,
        ]

    def _command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.home / "server.properties"))

    def _prepare(self, progress: Progress) -> None:
        from hailong.clock import SYSTEM
        from hailong.kafka import account_password
        from infra.tls import ensure_certificates

        s = self.settings
        _, keystore = ensure_certificates(s.kafka_dir / "tls", SYSTEM)
        template = Template((INFRA_DIR / "kafka" / "server.properties.template").read_text())
        data_dir = self.home / "data"
        properties = self.home / "server.properties"
        fd = os.open(properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:  # it holds the broker's password
            f.write(
                template.substitute(
                    port=s.kafka_port,
                    controller_port=s.kafka_controller_port,
                    internal_port=s.kafka_internal_port,
                    broker_password=account_password(s, "broker"),
                    keystore=keystore,
                    data_dir=data_dir,
                    **self._topology(),
                )
            )
        properties.chmod(0o600)
        if (data_dir / "meta.properties").exists():
            return
        progress(f"{self.name}: formatting storage (first start) ...")
        result = subprocess.run(  # noqa: S603
            self._java(
                "kafka.tools.StorageTool",
                "format",
                *self._format_options(),
                "-c",
                str(self.home / "server.properties"),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"Kafka storage format failed:\n{result.stdout}\n{result.stderr}")

    def _topology(self) -> dict[str, str | int]:
        """The template's values that differ between the single node and a cluster's."""
        return {
            "node_id": 1,
            "quorum": f"controller.quorum.bootstrap.servers=127.0.0.1:"
            f"{self.settings.kafka_controller_port}",
            "replicas": 1,
            "min_isr": 1,
        }

    def _format_options(self) -> list[str]:
        return ["--standalone", "-t", _kafka_cluster_id()]

    def _ready(self, progress: Progress) -> None:
        from infra.access import ensure_accounts

        ensure_accounts(self.settings, progress)

    def answers(self) -> bool:
        from hailong.kafka import admin_client
        from infra.access import internal_admin

        # log_level 0: refused connections are expected while it starts; don't print them.
        # The local broker is asked on its own listener: the platform's accounts may not
        # exist yet.
        admin = (
            admin_client(
                self.settings, extra={"socket.connection.setup.timeout.ms": 2000, "log_level": 0}
            )
            if self.external
            else internal_admin(self.settings)
        )
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception:  # noqa: BLE001 - any failure means "not answering yet"
            return False
        return bool(metadata.brokers)


def maven_jars(pom: Path, libs: Path, name: str, progress: Progress = print) -> None:
    """Copy the runtime jars ``pom`` lists from Maven Central into ``libs`` (skipped when
    they are there for this very pom)."""
    marker = libs / ".installed"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text() == digest:
        progress(f"{name}: jars already installed")
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(f"Maven (mvn) is needed to fetch the {name} jars: apt-get install maven")
    progress(f"{name}: fetching jars with Maven ...")
    shutil.rmtree(libs, ignore_errors=True)
    result = subprocess.run(  # noqa: S603
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"mvn failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    marker.write_text(digest)
    progress(f"{name}: {len(list(libs.glob('*.jar')))} jars in {libs}")


def _kafka_cluster_id() -> str:
    # Kafka's own Uuid.randomUuid(): URL-safe base64 of 16 random bytes, never
    # starting with '-' (it would read as a command-line flag).
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class ClickHouse(_LocalService):
    """Debian's ``clickhouse-server`` package, run with the project's own config."""

    name = "clickhouse"

    @property
    def external(self) -> bool:
        return not self.settings.local_clickhouse

    @property
    def main_log(self) -> Path:
        return self.log_dir / "clickhouse-server.err.log"

    @staticmethod
    def binary() -> str:
        for candidate in CLICKHOUSE_BINARY_CANDIDATES:
            found = shutil.which(candidate)
            if found:
                return found
        raise StackError(
            "clickhouse-server is not installed: run infra/install "
            "(apt-get install clickhouse-server clickhouse-client)"
        )

    def _command(self) -> list[str]:
        binary = self.binary()
        prefix = [binary, "server"] if Path(binary).name == "clickhouse" else [binary]
        return [*prefix, f"--config-file={self.home / 'config.xml'}"]

    def _prepare(self, progress: Progress) -> None:
        s = self.settings
        data_dir = self.home / "data"
        for sub in ("tmp", "user_files", "format_schemas"):
            (data_dir / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "log_dir": self.log_dir,
            "data_dir": data_dir,
            "tcp_port": s.clickhouse_local_port,
            "http_port": s.clickhouse_http_port,
            "platform_user": s.clickhouse_user,
            "platform_password_sha256": _sha256(s.clickhouse_password.get_secret_value()),
            "readonly_user": s.clickhouse_readonly_user,
            "readonly_password_sha256": _sha256(s.clickhouse_readonly_password.get_secret_value()),
            "database": s.clickhouse_database,
            "city_it_max_memory": s.city_it_max_memory_mb * 1_000_000,
            "city_it_max_memory_for_user": 2 * s.city_it_max_memory_mb * 1_000_000,
            "city_it_max_execution_s": s.city_it_max_execution_s,
            "city_it_max_threads": s.city_it_max_threads,
            "city_it_max_concurrent": s.city_it_max_concurrent_queries,
            "cluster": self._extra_config(),
        }
        for name in ("config.xml", "users.xml"):
            template = Template((INFRA_DIR / "clickhouse" / f"{name}.template").read_text())
            path = self.home / name
            # A cluster server's config holds the password its shards use with each other.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(template.substitute(values))
            path.chmod(0o600)

    def _extra_config(self) -> str:
        """More of config.xml: a cluster server's part (infra/cluster.py)."""
        return ""

    def answers(self) -> bool:
        import logging

        from clickhouse_driver import Client

        # Refused connections are expected while it starts; the driver would log each.
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.CRITICAL)
        s = self.settings
        client = Client(
            host=s.ch_host,
            port=s.ch_port,
            user=s.clickhouse_user,
            password=s.clickhouse_password.get_secret_value(),
            connect_timeout=2,
            send_receive_timeout=5,
        )
        try:
            return bool(client.execute("SELECT 1") == [(1,)])
        except Exception:  # noqa: BLE001 - any failure means "not answering yet"
            return False
        finally:
            client.disconnect()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Stack:
    """The local stack's services: what the ``hailong stack`` commands act on.

    One Kafka broker and one ClickHouse server, or with ``settings.cluster`` the cluster
    profile's (infra/cluster.py). ``kafka`` and ``clickhouse`` are the first of each.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.cluster:
            from infra.cluster import cluster_services

            self.groups = cluster_services(settings)
        else:
            self.groups = [[Kafka(settings)], [ClickHouse(settings)]]
        self.services: tuple[_LocalService, ...] = tuple(s for g in self.groups for s in g)
        self.kafka = next(s for s in self.services if isinstance(s, Kafka))
        self.clickhouse = next(s for s in self.services if isinstance(s, ClickHouse))

    def install(self, progress: Progress = print) -> None:
        installed: set[Path] = set()
        for service in self.services:
            libs = getattr(service, "libs", None)
            if service.external or libs is None or libs in installed:
                continue
            installed.add(libs)
            service.install(progress)  # type: ignore[attr-defined]
        if self.kafka.external:
            progress("kafka: external, no jars needed")
        if not self.clickhouse.external:
            progress(f"clickhouse: using {ClickHouse.binary()}")

    def start(self, progress: Progress = print) -> None:
        from infra.topics import ensure_topics

        for group in self.groups:
            local = [s for s in group if not s.external]
            for service in group:
                if service.external:
                    progress(f"{service.name}: external, not started here")
            launched = [(s, s.launch(progress)) for s in local]
            for service, proc in launched:
                service.await_ready(progress, proc)
        ensure_topics(self.settings, progress)

    def stop(self, progress: Progress = print) -> None:
        """Stop the local services, the last group first; a group's services together
        (three KRaft nodes stopped one by one leave the last without a quorum of
        controllers: it would wait out its timeout)."""
        lock = threading.Lock()

        def say(line: str) -> None:  # one whole line at a time from the threads
            with lock:
                progress(line)

        for group in reversed(self.groups):
            local = [s for s in reversed(group) if not s.external]
            with ThreadPoolExecutor(max_workers=max(1, len(local))) as pool:
                for done in [pool.submit(s.stop, say) for s in local]:
                    done.result()

    def status(self) -> list[ServiceStatus]:
        return [service.status() for service in self.services]

    def reset(self, progress: Progress = print) -> None:
        for service in self.services:
            service.reset(progress)
