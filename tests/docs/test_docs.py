"""The documentation's files and examples are real: links resolve, the example
configuration loads, the systemd unit runs the command that exists."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from doorwatch.node._config import load_config
from doorwatch.node._storage_key import CREDENTIAL_NAME

DOCS = Path(__file__).resolve().parents[2] / "docs"
LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


def test_every_relative_link_in_the_docs_resolves() -> None:
    missing = []
    for page in sorted(DOCS.glob("*.md")):
        for target in LINK.findall(page.read_text("utf-8")):
            if not (page.parent / target).exists():
                missing.append(f"{page.name} -> {target}")
    assert missing == []


def test_the_example_config_loads_as_a_node_configuration(tmp_path: Path) -> None:
    copy = tmp_path / "config.json"
    shutil.copy(DOCS / "example-config.json", copy)
    config = load_config(copy)
    assert config.venue == "The Crown"
    assert config.listen == ["/ip4/0.0.0.0/tcp/4001"]


def test_the_systemd_unit_runs_the_daemon_from_the_data_directory_variable() -> None:
    unit = (DOCS / "doorwatch.service").read_text("utf-8")
    assert re.search(r"^ExecStart=\S+/doorwatch run$", unit, re.MULTILINE)
    assert "Environment=DOORWATCH_DATA_DIR=" in unit
    assert "DOORWATCH_LOG_FORMAT=json" in unit
    # The storage key's passphrase, as the systemd credential the daemon reads.
    assert re.search(rf"^LoadCredential={CREDENTIAL_NAME}:/\S+$", unit, re.MULTILINE)
