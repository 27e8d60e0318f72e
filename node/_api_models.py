"""Parameter and result models of the local API's node methods.

One pair per method; docs/api-schema.json is generated from them
(`doorwatch api-schema`) and the tests check real responses against them.
Parameter models are strict and forbid unknown fields, so a typo in a
scanner integration fails loudly instead of being ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

# The last second of the year 9999: a bound on every timestamp a client sends.
MAX_TIMESTAMP = 253_402_300_799

RoleName = Literal["door_staff", "supervisor", "administrator", "super_administrator"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParams(Params):
    pass


class LoginParams(Params):
    username: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, max_length=1024)
    cookie: str | None = Field(default=None, max_length=128)
    token: str | None = Field(
        default=None,
        max_length=128,
        description="The API token (file api.token); required on the loopback TCP listener",
    )

    @model_validator(mode="after")
    def _one_way(self) -> LoginParams:
        if self.cookie is None and (self.username is None or self.password is None):
            raise ValueError("give username and password, or cookie")
        if self.cookie is not None and (self.username is not None or self.password is not None):
            raise ValueError("give username and password, or cookie, not both")
        return self


class LoginResult(Result):
    username: str
    role: RoleName
    expires_at: int = Field(description="Unix seconds; log in again after this")


class StatusCounts(Result):
    alerts_originated_active: int
    alerts_received_active: int
    disclosure_alarms_7d: int = Field(
        default=0,
        description="Disclosure limits reached and alarms raised in the last 7 days, at "
        "either end of the ladder (audit actions disclosure.limit_reached and "
        "disclosure.alarm): someone may be guessing who an alert is about",
    )


class StatusLoading(Result):
    phase: Literal["records", "alerts"] = Field(
        description="records: reading the stored alert records (sync with peers starts"
        " after it); alerts: opening and indexing the received alerts"
    )
    done: int = Field(ge=0)
    total: int = Field(ge=0, description="records stored, or received alerts to index")


class StatusHealth(Result):
    state: Literal["ok", "alone", "loading", "isolated", "not_synced"] = Field(
        description="ok: a member is connected (or was, within 10 min) and alerts are synced;"
        " alone: no other member in any network (nothing to miss); loading: received alerts"
        " still loading after a start; isolated: no member connected for over 10 min;"
        " not_synced: members connected but no alert sync completed for over 15 min. In the"
        " last three, alerts made elsewhere may be missing here"
    )
    message: str = Field(description="The state in one sentence, for staff")
    connected: int = Field(ge=0, description="Members connected now")
    members: int = Field(ge=0, description="Other members this node admits")
    isolated_s: int | None = Field(
        description="Seconds without any member connected (0 while one is; null if none)"
    )
    last_contact_at: int | None = Field(description="Last contact with any member, Unix s")
    last_synced_at: int | None = Field(
        description="When an alert sync with a member last completed (since start), Unix s"
    )


class StatusResult(Result):
    venue: str
    peer_id: str
    short_id: str = Field(description="Human-checkable form of the peer id, with a check character")
    version: str
    uptime_s: int
    listen_addresses: list[str]
    networks: list[dict[str, object]] = Field(
        description="[{network_id, name, members, authority, group_epochs}]"
    )
    peers: list[dict[str, object]] = Field(
        description="[{peer_id, short_id, venue, connected, last_seen, addresses, refused}] of"
        " every certificate holder in the node's networks; addresses: the multiaddrs this node"
        " dials for it (from the key manager's bundles or its signed presence record);"
        " refused: why the gate refuses it (e.g. certificate revoked, banned for invalid"
        " messages), or null"
    )
    gate: dict[str, object] = Field(
        default_factory=dict,
        description="Membership gate counters: {admitted, refused, refused_by_reason,"
        " requests_refused}",
    )
    counts: StatusCounts
    loading: StatusLoading | None = Field(
        default=None,
        description="Set while the node loads the alerts it received from the network,"
        " after a start (the socket opens before); until it is null, scan.submit gives at"
        " least `check` with the reason `alerts_loading`",
    )
    console_url: str | None = Field(
        default=None,
        description="Where the web console is served (http:// on loopback, https:// otherwise),"
        " or null while it is not",
    )
    console_fingerprint: str | None = Field(
        default=None,
        description="SHA-256 fingerprint of the console's HTTPS certificate (AB:CD:...), for"
        " staff to compare once with what the tablet's browser shows; null over HTTP",
    )
    health: StatusHealth | None = Field(
        default=None,
        description="Whether this node's alerts may be incomplete (the consoles' isolation"
        " indicator; also node.health)",
    )


class UserAddParams(Params):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    role: RoleName
    password: str = Field(max_length=1024)


class UserResult(Result):
    username: str
    role: RoleName
    disabled: bool
    created_at: int


class UserListResult(RootModel[list[UserResult]]):
    pass


class UserNameParams(Params):
    username: str = Field(min_length=1, max_length=64)


class PasswdParams(Params):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=1024)


class DisabledResult(Result):
    disabled: Literal[True]


class ChangedResult(Result):
    changed: Literal[True]


class AuditQueryParams(Params):
    actor: str | None = None
    alert_id: str | None = None
    action: str | None = None
    since: int | None = Field(
        default=None, ge=0, le=MAX_TIMESTAMP, description="Unix seconds, inclusive"
    )
    until: int | None = Field(
        default=None, ge=0, le=MAX_TIMESTAMP, description="Unix seconds, exclusive"
    )
    limit: int = Field(default=200, ge=1, le=10000)


class AuditEntryResult(Result):
    id: int
    at: int
    actor: str
    action: str
    alert_id: str | None
    peer_id: str | None
    detail: dict[str, object]


class AuditQueryResult(RootModel[list[AuditEntryResult]]):
    pass
