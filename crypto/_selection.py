"""The network's selection key: who holds it, how it travels, what it seeds.

Every alert about one person must disclose the same factors, whichever
member venue creates it (otherwise two alerts disclose two sets and together
identify the person). So the segment selection is seeded by a PRF of the
subject's normalised identity under a key every member holds and nobody else
does: ``selection_seed(key, identity) = BLAKE2b(key, "segment-selection"
prefix || identity)``. Without the key, nobody can predict which factors an
alert about a given person discloses, nor test a guessed identity against
the choice.

The key is ``AuthorityKey.selection_key()`` (a PRF of the authority seed):
made with the network, never rotated (group-key rotations leave it alone;
a new key would make re-alerts disclose a second set). The key manager seals
it to each member (purpose ``selection-key``, bound to the network id) in
every membership bundle; members store it encrypted under their storage key.
"""

from __future__ import annotations

import nacl.utils

from doorwatch.crypto._canonical import canonical_pack, canonical_unpack
from doorwatch.crypto._domain import Purpose, RandomBytes, derive
from doorwatch.crypto._errors import InvalidEncoding, InvalidKey
from doorwatch.crypto._identity import NodeIdentity
from doorwatch.crypto._seal import seal_to, unseal

SELECTION_KEY_SIZE = 32


def selection_seed(selection_key: bytes, identity: bytes) -> bytes:
    """The 32-byte seed of one subject's segment selection (keyed BLAKE2b)."""
    if not isinstance(selection_key, bytes) or len(selection_key) != SELECTION_KEY_SIZE:
        raise InvalidKey("selection_key: exactly 32 bytes")
    return derive(selection_key, Purpose.SELECTION, identity)


def seal_selection_key(
    network_id: str,
    selection_key: bytes,
    recipient_x25519_public: bytes,
    sender: NodeIdentity,
    random_bytes: RandomBytes = nacl.utils.random,
) -> bytes:
    """Seal the network's selection key to one member, authenticated as from ``sender``."""
    if len(selection_key) != SELECTION_KEY_SIZE:
        raise InvalidKey("selection_key: exactly 32 bytes")
    body = canonical_pack({"network_id": network_id, "key": selection_key})
    return seal_to(recipient_x25519_public, body, sender, Purpose.SELECTION_KEY, random_bytes)


def open_selection_key(
    sealed: bytes, recipient: NodeIdentity, sender_public_key: bytes, network_id: str
) -> bytes:
    """Open a sealed selection key for ``network_id``; raises DecryptionFailed or
    InvalidEncoding (malformed, or the key of another network)."""
    value = canonical_unpack(unseal(sealed, recipient, sender_public_key, Purpose.SELECTION_KEY))
    if not isinstance(value, dict) or set(value) != {"network_id", "key"}:
        raise InvalidEncoding("the sealed selection key's content is malformed")
    key = value["key"]
    if value["network_id"] != network_id:
        raise InvalidEncoding("the sealed selection key is another network's")
    if not isinstance(key, bytes) or len(key) != SELECTION_KEY_SIZE:
        raise InvalidEncoding("the sealed selection key is not 32 bytes")
    return key
