"""Sealed and signed message bodies, and the keys they need (issue 17).

The only package that imports a crypto library (cryptography, gmalg). The client seals a body for
the recipients the router will choose (`recipients_of`) and signs envelope and sealed body; the
router verifies the signature and that each recipient it decided on can open (`check_for_router`);
each recipient verifies again and opens (`open_message`). Keys: broker/sealing/keys.py (key rings,
mode 600) and broker/sealing/directory.py (the signed key directory). `Sealing`
(broker/sealing/participant.py) bundles a side's suite, directory and key ring for those calls.
"""

from broker.sealing.directory import KeyDirectory
from broker.sealing.errors import SealingError
from broker.sealing.keys import DeploymentKey, Generation, KeyRing
from broker.sealing.participant import Sealing
from broker.sealing.sealed import Sealed, check_for_router, open_message, seal_message, unopenable, verify
from broker.sealing.suites import INTERNATIONAL, NATIONAL, SUITES, Suite, suite

__all__ = [
    "INTERNATIONAL",
    "NATIONAL",
    "SUITES",
    "DeploymentKey",
    "Generation",
    "KeyDirectory",
    "KeyRing",
    "Sealed",
    "Sealing",
    "SealingError",
    "Suite",
    "check_for_router",
    "open_message",
    "seal_message",
    "suite",
    "unopenable",
    "verify",
]
