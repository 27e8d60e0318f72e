"""Errors of network formation and administration (create, invite, join, revoke)."""

from __future__ import annotations

from doorwatch.node._errors import NodeError


class NetworkError(NodeError):
    """Base class: something about a network this node belongs to (or not)."""


class UnknownNetwork(NetworkError):
    pass


class NotAuthority(NetworkError):
    def __init__(self, network_id: str) -> None:
        super().__init__(
            f"this node does not hold the authority key of network {network_id}; "
            "run the command on the node that created the network"
        )


class UnknownMember(NetworkError):
    pass


class InviteRefused(NetworkError):
    """The authority refused a join (used, expired, unknown or altered invite)."""


class JoinFailed(NetworkError):
    """The join could not be completed (unreachable node, bad answer)."""


class CannotLeave(NetworkError):
    """This node cannot leave the network (it is the network's hub)."""


class CannotRevoke(NetworkError):
    """The member cannot be revoked (the authority's own node)."""


class AuthorityOffline(NetworkError):
    def __init__(self, network_id: str) -> None:
        super().__init__(
            f"the authority key of network {network_id} is offline (exported and removed); "
            "bring it back with `doorwatch network import-authority FILE` first"
        )


class BadAuthorityFile(NetworkError):
    """An authority key file that cannot be read, decrypted or used here."""


class GroupError(NetworkError):
    """A group cannot be added or removed as asked."""


class BadSyncAnswer(NetworkError):
    """A membership sync answer that contradicts the query (e.g. "unchanged" to another state)."""
