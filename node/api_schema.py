"""The machine-readable description of the local API, made from the method models."""

from __future__ import annotations

from collections.abc import Iterable

from doorwatch.node._api_server import MethodSpec
from doorwatch.node._errors import ErrorCode
from doorwatch.node._local_api import SPECS

SCHEMA_VERSION = 1


def api_schema(specs: Iterable[MethodSpec] = SPECS) -> dict[str, object]:
    methods: dict[str, object] = {}
    for spec in sorted(specs, key=lambda s: s.name):
        methods[spec.name] = {
            "summary": spec.summary,
            "role": spec.role.value if spec.role is not None else None,
            "params": spec.params.model_json_schema(mode="validation"),
            "result": spec.result.model_json_schema(mode="serialization"),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "protocol": "JSON-RPC 2.0, one UTF-8 JSON object per line, on <data-dir>/doorwatch.sock",
        "errors": {code.name.lower(): int(code) for code in ErrorCode},
        "methods": methods,
    }
