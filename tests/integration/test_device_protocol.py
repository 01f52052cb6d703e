"""The README's device protocol examples, run as a vendor would: a device registered
with `hailong devices register`, its config file, then the Python example and the shell
example (OpenSSL, jq, Kafka's console producer) each publish one signed press, each as
the device's own Kafka account; a worker that requires signatures counts both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hailong.settings import Settings
from infra.worker import running_worker
from tests.conftest import reconfigured, register_device, wait_until
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
LOG4J = Path(__file__).resolve().parents[2] / "infra" / "kafka" / "log4j2.properties"


def examples() -> tuple[str, str]:
    text = README.read_text("utf-8")
    section = text[text.index("## Device protocol") : text.index("## Device channels")]
    (python,) = re.findall(r"```python\n(.*?)```", section, re.S)
    (shell,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    return python, shell


def test_the_readme_examples_publish_events_that_count(settings: Settings, tmp_path: Path) -> None:
    s = reconfigured(settings, require_signatures=True)
    config = tmp_path / "K-00004-1.json"
    register_device(
        s, "K-00004-1", "kiosk", "HN-00004", config, "--from", "2020-01-01T00:00:00+00:00"
    )
    python, shell = examples()
    with running_worker(s, tmp_path / "worker.log") as worker, Warehouse(s) as wh:
        subprocess.run(  # noqa: S603 - the README's example
            [sys.executable, "-c", python],
            cwd=tmp_path,
            check=True,
            timeout=60,
        )
        # Kafka's kafka-console-producer.sh, as a vendor has it from Kafka's distribution
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        script = bin_dir / "kafka-console-producer.sh"
        script.write_text(
            f"#!/bin/sh\nexec java -cp '{s.kafka_dir / 'libs'}/*' "
            f"-Dlog4j2.configurationFile={LOG4J} "
            'org.apache.kafka.tools.ConsoleProducer "$@"\n'
        )
        script.chmod(0o755)
        env = {**s.child_environment(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        subprocess.run(  # noqa: S603 - the README's example
            ["bash", "-euo", "pipefail", "-c", shell],  # noqa: S607 - bash from PATH
            cwd=tmp_path,
            check=True,
            timeout=120,
            env=env,
        )
        assert not [
            p.name
            for p in tmp_path.iterdir()
            if p.name in ("device-key.der", "kafka.conf", "kafka-ca.pem")
        ]  # the example cleans up

        def counted() -> list[tuple[int]]:
            return wh.execute("SELECT value FROM kiosk_ratings_raw FINAL ORDER BY value")

        wait_until(lambda: counted() == [(4,), (5,)], 60, "both examples' presses counted")
        assert wh.execute("SELECT count() FROM quarantine FINAL") == [(0,)]
        assert worker.poll() is None
