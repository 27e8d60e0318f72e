"""Group keys: one symmetric XChaCha20-Poly1305 key per (network, group,
epoch). Rotation draws a fresh random key (never derived from the old one),
so a member removed before a rotation holds nothing that opens the new
epoch. Delivery is a sealed box (purpose ``groupkey``) from the sending
member (usually the authority's node or the group's key manager) to each
remaining member's X25519 key.
"""

from __future__ import annotations

import nacl.utils
from pydantic import Field

from doorwatch.crypto._domain import Purpose, RandomBytes
from doorwatch.crypto._errors import InvalidEncoding
from doorwatch.crypto._identity import NodeIdentity
from doorwatch.crypto._seal import seal_to, unseal
from doorwatch.crypto._wire import Bytes32, Counter, GroupName, NetworkId, WireModel


class GroupKey(WireModel):
    """The symmetric key of one group at one epoch."""

    network_id: NetworkId
    group: GroupName
    epoch: Counter
    key: Bytes32 = Field(repr=False)


def new_group_key(
    network_id: str,
    group: str,
    *,
    epoch: int = 1,
    random_bytes: RandomBytes = nacl.utils.random,
) -> GroupKey:
    """A fresh random key for ``group`` at ``epoch``."""
    return GroupKey.from_dict(
        {"network_id": network_id, "group": group, "epoch": epoch, "key": random_bytes(32)}
    )


def rotate(group_key: GroupKey, random_bytes: RandomBytes = nacl.utils.random) -> GroupKey:
    """The next epoch's key: epoch + 1 and a fresh, independent random key."""
    return new_group_key(
        group_key.network_id, group_key.group, epoch=group_key.epoch + 1, random_bytes=random_bytes
    )


def seal_group_key(
    group_key: GroupKey,
    recipient_x25519_public: bytes,
    sender: NodeIdentity,
    random_bytes: RandomBytes = nacl.utils.random,
) -> bytes:
    """Seal ``group_key`` to one member, authenticated as from ``sender``."""
    return seal_to(
        recipient_x25519_public, group_key.to_bytes(), sender, Purpose.GROUPKEY, random_bytes
    )


def open_group_key(sealed: bytes, recipient: NodeIdentity, sender_public_key: bytes) -> GroupKey:
    """Open a sealed group key; raises DecryptionFailed or InvalidEncoding."""
    data = unseal(sealed, recipient, sender_public_key, Purpose.GROUPKEY)
    try:
        return GroupKey.from_bytes(data)
    except InvalidEncoding as exc:
        raise InvalidEncoding("the sealed group key's content is malformed") from exc
