"""Distribution groups: an alert may name only groups this venue's certificates name.

The venue runs in process (``venue_harness``) with its own node identity; its
network, certificate and groups are made with the functions the CLI uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from doorwatch.crypto import NodeIdentity
from doorwatch.node import _network_admin as admin
from doorwatch.node._alert_api import AlertApi
from doorwatch.node._api_server import Dispatcher
from doorwatch.node._errors import ApiError, ErrorCode
from doorwatch.node._jsonrpc import Request
from doorwatch.node._roles import Role
from doorwatch.node._venue_testing import VenueHarness, venue_harness

DOCUMENT = {
    "document_type": "passport",
    "document_number": "123456789",
    "given_names": "Alice May",
    "surname": "Quillfeatherington",
    "date_of_birth": "1990-05-17",
    "expiry_date": "2030-01-01",
    "issuing_country": "GBR",
}


class Node:
    """The venue's alert methods as its daemon registers them: with its peer id."""

    def __init__(self, h: VenueHarness) -> None:
        self.h = h
        self.identity = NodeIdentity.generate()
        self.dispatcher = Dispatcher(now=h.clock.now)
        AlertApi(h.venue, peer_id=self.identity.peer_id).register(self.dispatcher)

    async def call(self, method: str, role: Role = Role.SUPER_ADMINISTRATOR, **p: Any) -> Any:
        return await self.dispatcher.call(self.h.session(role), Request(1, method, p))

    async def error(self, method: str, **p: Any) -> ApiError:
        with pytest.raises(ApiError) as info:
            await self.call(method, **p)
        return info.value

    async def create_network(self) -> str:
        network_id: str = await self.h.store.run(
            lambda conn: admin.create_network(
                conn,
                identity=self.identity,
                storage_key=self.h.venue.key,
                venue="The Crown",
                name="Town centre",
                jurisdiction="GB",
                now=self.h.clock.now(),
            )
        )
        return network_id

    async def add_to_group(self, network_id: str, group: str) -> None:
        await self.h.store.run(
            lambda conn: admin.add_group(
                conn,
                storage_key=self.h.venue.key,
                network_id=network_id,
                group=group,
                members=[self.identity.peer_id],
                now=self.h.clock.now(),
            )
        )

    async def create(self, **p: Any) -> Any:
        return await self.call(
            "alert.create", Role.DOOR_STAFF, document=DOCUMENT, category="theft", reason="r", **p
        )


@asynccontextmanager
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    async with venue_harness(tmp_path) as h:
        yield Node(h)


async def test_a_group_outside_the_venues_certificate_is_refused(tmp_path: Path) -> None:
    async with node(tmp_path) as n:
        await n.create_network()
        err = await n.error(
            "alert.create", document=DOCUMENT, category="theft", reason="r", groups=["door"]
        )
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith("groups: this venue is not a member of group 'door';")
        assert "'all'" in err.message  # what it may use instead
        assert await n.call("alert.list") == []


async def test_the_venues_own_groups_are_accepted(tmp_path: Path) -> None:
    async with node(tmp_path) as n:
        network_id = await n.create_network()
        await n.add_to_group(network_id, "door")
        made = await n.create(groups=["door"])
        plain = await n.create(groups=["all"])
        listed = {a["alert_id"]: a["groups"] for a in await n.call("alert.list")}
        assert listed == {made["alert_id"]: ["door"], plain["alert_id"]: ["all"]}


async def test_a_venue_in_no_network_keeps_its_groups_locally(tmp_path: Path) -> None:
    async with node(tmp_path) as n:
        made = await n.create(groups=["door"])
        [listed] = await n.call("alert.list")
        assert listed["alert_id"] == made["alert_id"]
        assert listed["groups"] == ["door"]


async def test_amending_to_a_group_outside_the_certificate_is_refused(tmp_path: Path) -> None:
    async with node(tmp_path) as n:
        network_id = await n.create_network()
        made = await n.create()
        err = await n.error("alert.amend", alert_id=made["alert_id"], groups=["door"])
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith("groups: this venue is not a member of group 'door';")
        [listed] = await n.call("alert.list")
        assert (listed["version"], listed["groups"]) == (1, [])

        await n.add_to_group(network_id, "door")
        amended = await n.call("alert.amend", alert_id=made["alert_id"], groups=["door"])
        assert amended["version"] == 2
        [listed] = await n.call("alert.list")
        assert listed["groups"] == ["door"]


async def test_more_than_one_group_is_refused_rather_than_narrowed(tmp_path: Path) -> None:
    async with node(tmp_path) as n:
        network_id = await n.create_network()
        await n.add_to_group(network_id, "door")
        err = await n.error(
            "alert.create", document=DOCUMENT, category="theft", reason="r", groups=["all", "door"]
        )
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith("groups: an alert is shared with one distribution group")
        assert await n.call("alert.list") == []
