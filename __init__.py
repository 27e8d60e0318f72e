"""Doorwatch: peer-to-peer, encrypted alert sharing for night-time venues.

The repository root is this package. Its sub-packages, innermost first:

- ``doorwatch.segments``: ID normalisation, partial-identity segments and the
  statistical matcher (pure).
- ``doorwatch.crypto``: identities, certificates, group keys, envelopes and the
  private equality test (pure).
- ``doorwatch.protocol``: wire messages, canonical encoding and the sans-I/O
  state machines (pure).
- ``doorwatch.node``: the I/O shell (libp2p, SQLite, local socket API).
- ``doorwatch.cli``: the ``doorwatch`` command.

Dependencies point inward only: cli -> node -> protocol -> (crypto, segments).
"""

__version__ = "0.1.0"
