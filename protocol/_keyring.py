"""The group keyring: which group keys a node holds, and which deliveries it accepts.

Theory of operation: one ``GroupKeyring`` per node and network holds every
``GroupKey`` the node may still need, per (group, epoch). ``apply(delivery)``
accepts a ``group_key.delivery`` only if

- it is for this network, and its sender's certificate (carried in the
  delivery) is signed by the network authority, valid at ``now``, not revoked,
  names the sender, and carries ``key_manager``: the network's designated key
  manager is whoever the authority certified as one, and nobody else;
- its epoch is strictly higher than the current epoch held for the group
  (lower or equal epochs are reported as ``StaleGroupKey`` and never applied, so
  nobody can roll a group back to a key a removed member holds, and a second
  key for an epoch already held cannot replace the first);
- this node's entry opens (sealed by the sender's key to this node's key,
  purpose ``groupkey``) to a ``GroupKey`` of exactly the delivery's network,
  group and epoch.

The newest epoch of a group is ``current(group)``: the only key new content
is sealed under, and the epoch the replica demands of new content (see
``Replica(current_epoch=...)``). Older epochs stay in the keyring
(``key_for(group, epoch)``) because alerts stored under them stay readable
until they are superseded or purged; ``retain(in_use)`` drops the old keys no
stored record needs any more. ``epochs()`` is what the sync state machine
advertises; a peer behind is sent ``latest_delivery(group)`` unchanged (it
is self-authenticating, so any member can relay it). The node persists
``keys()`` (encrypted at rest) and the latest deliveries, and rebuilds the
keyring with them after a restart. Nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import nacl.utils

from doorwatch.crypto import (
    Certificate,
    CertificateError,
    CryptoError,
    GroupKey,
    NodeIdentity,
    RevocationList,
    network_id_from_public_key,
    open_group_key,
    peer_id_to_public_key,
    seal_group_key,
    verify_certificate,
    x25519_public_from_ed25519,
)
from doorwatch.protocol._errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from doorwatch.protocol._messages import GroupKeyDelivery, SealedGroupKey


def group_key_delivery(
    key: GroupKey,
    *,
    sender: NodeIdentity,
    sender_certificate: Certificate,
    members: Iterable[str],
    random_bytes: Callable[[int], bytes] = nacl.utils.random,
) -> GroupKeyDelivery:
    """The key manager's delivery of ``key`` to ``members`` (peer ids), one sealed box each.

    Removing a member is: ``rotate`` the key and deliver the new epoch to everyone else.
    """
    if not sender_certificate.key_manager or sender_certificate.peer_id != sender.peer_id:
        raise LocalProtocolError(
            "sender_certificate: must be the sender's own certificate with key_manager",
            ErrorCode.NOT_KEY_MANAGER,
        )
    sealed = tuple(
        SealedGroupKey(
            member=member,
            sealed=seal_group_key(
                key,
                x25519_public_from_ed25519(peer_id_to_public_key(member)),
                sender,
                random_bytes,
            ),
        )
        for member in sorted(set(members))
    )
    return GroupKeyDelivery(
        network_id=key.network_id,
        group=key.group,
        epoch=key.epoch,
        sender=sender.peer_id,
        sender_certificate=sender_certificate,
        keys=sealed,
    )


@dataclass(frozen=True, slots=True)
class GroupKeyAccepted:
    """A new epoch became current for ``group``: persist the key; re-publish own alerts.

    ``previous_epoch`` is the epoch it supersedes (None for a group's first
    key). After a rotation the originator re-publishes each of its active
    alerts of the group as an update under the new epoch, so that content
    leaves the old key behind.
    """

    group: str
    epoch: int
    previous_epoch: int | None


@dataclass(frozen=True, slots=True)
class StaleGroupKey:
    """A delivery for an epoch not above the current one: ignored (replay or rollback)."""

    group: str
    epoch: int
    current_epoch: int


@dataclass(frozen=True, slots=True)
class NotARecipient:
    """A valid delivery with no entry for this node: it may have been removed from the group."""

    group: str
    epoch: int


KeyringEvent = GroupKeyAccepted | StaleGroupKey | NotARecipient


class GroupKeyring:
    """Group keys of one node in one network, by group and epoch."""

    def __init__(
        self,
        *,
        identity: NodeIdentity,
        authority_public_key: bytes,
        keys: Iterable[GroupKey] = (),
        deliveries: Iterable[GroupKeyDelivery] = (),
    ) -> None:
        self._identity = identity
        self.authority_public_key = authority_public_key
        self.network_id = network_id_from_public_key(authority_public_key)
        self._keys: dict[str, dict[int, GroupKey]] = {}
        self._deliveries: dict[str, GroupKeyDelivery] = {}
        for key in keys:
            self.add(key)
        for delivery in deliveries:
            held = self._deliveries.get(delivery.group)
            if held is None or delivery.epoch > held.epoch:
                self._deliveries[delivery.group] = delivery

    def add(self, key: GroupKey) -> None:
        """Hold ``key`` (a key this node created as key manager, or one restored from storage)."""
        if key.network_id != self.network_id:
            raise LocalProtocolError(
                "group key: network_id is not this keyring's network", ErrorCode.WRONG_NETWORK
            )
        held = self._keys.setdefault(key.group, {})
        if key.epoch in held and held[key.epoch] != key:
            raise LocalProtocolError(
                "group key: a different key is already held for this group and epoch",
                ErrorCode.REPLAY,
            )
        held[key.epoch] = key

    def apply(
        self, delivery: GroupKeyDelivery, *, now: int, revocations: RevocationList | None
    ) -> list[KeyringEvent]:
        """Check and apply one delivery at time ``now``; raise RemoteProtocolError if refused."""
        if delivery.network_id != self.network_id:
            raise RemoteProtocolError(
                "group_key.delivery: network_id is not this network's", ErrorCode.WRONG_NETWORK
            )
        certificate = delivery.sender_certificate
        try:
            verify_certificate(
                certificate,
                authority_public_key=self.authority_public_key,
                network_id=self.network_id,
                now=now,
                revocations=revocations,
            )
        except CertificateError as exc:
            raise RemoteProtocolError(
                f"group_key.delivery: sender_certificate is not valid ({exc.message})",
                ErrorCode.NOT_KEY_MANAGER,
            ) from exc
        except CryptoError as exc:  # a bad revocation list is the caller's, but map it anyway
            raise RemoteProtocolError(
                f"group_key.delivery: {exc.message}", ErrorCode.BAD_SIGNATURE
            ) from exc
        if not certificate.key_manager:
            raise RemoteProtocolError(
                "group_key.delivery: the sender is not the network's key manager "
                "(its certificate has no key_manager flag)",
                ErrorCode.NOT_KEY_MANAGER,
            )
        current = self.current_epoch(delivery.group)
        if current is not None and delivery.epoch <= current:
            return [StaleGroupKey(delivery.group, delivery.epoch, current)]
        mine = [k for k in delivery.keys if k.member == self._identity.peer_id]
        if not mine:
            return [NotARecipient(delivery.group, delivery.epoch)]
        try:
            key = open_group_key(mine[0].sealed, self._identity, certificate.public_key)
        except CryptoError as exc:
            raise RemoteProtocolError(
                "group_key.delivery: this node's key does not open from the sender",
                ErrorCode.BAD_SIGNATURE,
            ) from exc
        if (key.network_id, key.group, key.epoch) != (
            delivery.network_id,
            delivery.group,
            delivery.epoch,
        ):
            raise RemoteProtocolError(
                "group_key.delivery: the sealed key is not for the delivery's group and epoch",
                ErrorCode.MALFORMED,
            )
        self._keys.setdefault(key.group, {})[key.epoch] = key
        self._deliveries[key.group] = delivery
        return [GroupKeyAccepted(key.group, key.epoch, current)]

    def latest_delivery(self, group: str) -> GroupKeyDelivery | None:
        """The accepted delivery of the group's current epoch, as received: what this node
        relays to a peer whose sync reports an older epoch (it verifies on its own)."""
        return self._deliveries.get(group)

    def current(self, group: str) -> GroupKey | None:
        """The group's newest key: the only one to seal new content under."""
        held = self._keys.get(group)
        return held[max(held)] if held else None

    def current_epoch(self, group: str) -> int | None:
        held = self._keys.get(group)
        return max(held) if held else None

    def key_for(self, group: str, epoch: int) -> GroupKey | None:
        """The key of ``group`` at ``epoch``, if still held (to read stored alerts)."""
        return self._keys.get(group, {}).get(epoch)

    def epochs(self) -> Mapping[str, int]:
        """Current epoch per group: what sync advertises (``group_epochs``)."""
        return {group: max(held) for group, held in sorted(self._keys.items()) if held}

    def keys(self) -> Iterator[GroupKey]:
        """Every key held (for persistence)."""
        for held in self._keys.values():
            yield from held.values()

    def retain(self, in_use: Iterable[tuple[str, int]]) -> list[GroupKey]:
        """Drop superseded keys no stored record uses; return them so the node deletes them.

        ``in_use`` is the (group, epoch) of every record the node still holds.
        The current key of each group is always kept.
        """
        needed = set(in_use)
        dropped: list[GroupKey] = []
        for group, held in self._keys.items():
            newest = max(held)
            for epoch in [e for e in held if e != newest and (group, e) not in needed]:
                dropped.append(held.pop(epoch))
        return dropped
