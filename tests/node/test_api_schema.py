"""docs/api-schema.json is the schema the code generates, and responses conform to it."""

from __future__ import annotations

import json
from pathlib import Path

from doorwatch.node.api_schema import api_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "api-schema.json"


def test_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text("utf-8"))
    assert committed == json.loads(json.dumps(api_schema())), (
        "docs/api-schema.json is out of date: run `doorwatch api-schema --output "
        "docs/api-schema.json`"
    )


def test_every_method_has_a_summary_and_schemas() -> None:
    methods = api_schema()["methods"]
    assert isinstance(methods, dict)
    for name, spec in methods.items():
        assert spec["summary"], name
        assert spec["params"]["type"] == "object", name
        assert spec["params"].get("additionalProperties") is False, name
