"""The venue methods through a real daemon process and its socket."""

from __future__ import annotations

import signal
from typing import Any

from doorwatch.node._local_api import SPECS
from doorwatch.node.api_schema import api_schema
from doorwatch.node.testing import PASSWORD, Daemon, RpcClient

RESULTS = {spec.name: spec.result for spec in SPECS}


def doc(**changes: Any) -> dict[str, Any]:
    base = {
        "document_type": "passport",
        "document_number": "925665416",
        "given_names": "Jordan Lee",
        "surname": "Pemberton-Hale",
        "date_of_birth": "1995-07-04",
        "expiry_date": "2033-03-01",
        "issuing_country": "GBR",
    }
    base.update(changes)
    return base


def checked(c: RpcClient, method: str, **params: Any) -> Any:
    """Call, and check the result against the method's published result model."""
    result = c.result(method, **params)
    RESULTS[method].model_validate(result)
    return result


def test_door_flow_over_the_socket(node: Daemon) -> None:
    node.start()
    admin = node.client()
    checked(admin, "user.add", username="door1", role="door_staff", password=PASSWORD)
    door = node.client("door1")
    assert checked(door, "alert.categories")
    scan = checked(door, "scan.submit", document=doc())
    assert scan["verdict"] == "admit"
    made = checked(
        door,
        "alert.create",
        scan_id=scan["scan_id"],
        category="threatening_behaviour",
        reason="threatened staff",
    )
    status = checked(door, "node.status")
    assert status["counts"]["alerts_originated_active"] == 1
    again = checked(door, "scan.submit", document=doc(given_names="Jordan"))
    assert again["verdict"] == "check"
    match_id = again["matches"][0]["match_id"]
    assert checked(door, "match.photo", match_id=match_id)["state"] == "photo_shown"
    details = checked(door, "match.confirm", match_id=match_id, same_person=True)
    assert details["details"]["reason"] == "threatened staff"
    checked(door, "admission.decide", scan_id=again["scan_id"], admitted=True, note="warned")
    listed = checked(door, "alert.list")
    assert listed[0]["alert_id"] == made["alert_id"]
    # door staff may not delete, amend distribution, export or ban
    for method, params in (
        ("alert.delete", {"alert_id": made["alert_id"]}),
        ("alert.amend", {"alert_id": made["alert_id"], "groups": ["north"]}),
        ("visits.export", {"from": 0, "to": 2**37}),
        ("sar.export", {"document": doc()}),
        ("ban.add", {"document": doc(), "reason": "r", "expires_at": 2**37}),
    ):
        reply = door.call(method, **params)
        assert reply["error"]["code"] == 1002, (method, reply)  # type: ignore[index]
    exported = checked(admin, "visits.export", **{"from": 0, "to": 2**37})
    assert len(exported["visits"]) == 2
    sar = checked(admin, "sar.export", document=doc())
    assert len(sar["visits"]) == 2
    assert len(sar["alerts"]) == 1
    checked(admin, "alert.get", alert_id=made["alert_id"])
    checked(admin, "alert.withdraw", alert_id=made["alert_id"])
    assert checked(door, "node.status")["counts"]["alerts_originated_active"] == 0
    bad = door.call("scan.submit", document=doc(date_of_birth="1995-02-30"))
    assert bad["error"]["code"] == -32602  # type: ignore[index]
    assert bad["error"]["message"].startswith("document.date_of_birth")  # type: ignore[index]
    assert node.stop(signal.SIGTERM) == 0


def test_index_survives_a_restart(node: Daemon) -> None:
    node.start()
    admin = node.client()
    checked(admin, "alert.create", document=doc(), category="theft", reason="r")
    assert node.stop(signal.SIGTERM) == 0
    node.start()
    admin = node.client()
    assert checked(admin, "scan.submit", document=doc())["verdict"] == "check"
    assert checked(admin, "node.status")["counts"]["alerts_originated_active"] == 1


def test_schema_lists_every_venue_method() -> None:
    methods = api_schema()["methods"]
    assert isinstance(methods, dict)
    for name in (
        "scan.submit",
        "match.photo",
        "match.confirm",
        "admission.decide",
        "alert.create",
        "alert.categories",
        "alert.list",
        "alert.get",
        "alert.amend",
        "alert.annotate",
        "alert.review",
        "alert.dispute",
        "alert.withdraw",
        "alert.delete",
        "ban.add",
        "ban.list",
        "ban.remove",
        "visits.export",
        "sar.export",
    ):
        assert name in methods, name
