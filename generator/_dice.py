"""The run's one random source: every draw comes from it in a fixed order, so a seed names a run."""

from __future__ import annotations

import random
import string
from bisect import bisect_right
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

ALNUM: Final = string.ascii_letters + string.digits
_UPPER_ALNUM: Final = string.ascii_uppercase + string.digits
_KEY_CHARS: Final = string.ascii_uppercase + "234567"
_HEX: Final = "0123456789abcdef"

_T = TypeVar("_T")


def _format_uuid4(bits: int) -> str:
    """Format 128 random bits as str(uuid.UUID(int=bits, version=4)) does, several times faster."""
    bits = (bits & ~(0xF000 << 64) | (4 << 76)) & ~(0xC000 << 48) | (0x8000 << 48)
    digits = f"{bits:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class Dice(random.Random):
    """A seeded ``random.Random`` (reproducible test data, not secrets) plus the draws made often.

    Subclassing keeps the stdlib's sequence for a seed, so the helpers only name draws.
    """

    def chance(self, probability: float) -> bool:
        """True with probability ``probability``."""
        return self.random() < probability

    def text(self, alphabet: str, length: int) -> str:
        """``length`` characters drawn from ``alphabet``."""
        return "".join(self.choices(alphabet, k=length))

    def alnum(self, length: int) -> str:
        """``length`` letters and digits, as in generated resource-name suffixes."""
        return self.text(ALNUM, length)

    def hex_digits(self, length: int) -> str:
        """``length`` lowercase hex digits, as in resource ids."""
        return self.text(_HEX, length)

    def uuid4(self) -> str:
        """A version-4 UUID string."""
        return _format_uuid4(self.getrandbits(128))

    def unique_id(self, prefix: str) -> str:
        """An IAM unique id (AIDA..., AROA...)."""
        return prefix + self.text(_UPPER_ALNUM, 17)

    def key_id(self, prefix: str) -> str:
        """An access key id (AKIA..., ASIA...)."""
        return prefix + self.text(_KEY_CHARS, 16)

    def pick_weighted(self, items: Sequence[_T], cumulative_weights: Sequence[float]) -> _T:
        """One of ``items``, weighted by the matching ``cumulative_weights``."""
        return items[bisect_right(cumulative_weights, self.random() * cumulative_weights[-1])]

    def public_ip(self, first_octets: Sequence[int]) -> str:
        """An IPv4 address whose first octet is one of ``first_octets``."""
        return (
            f"{self.choice(first_octets)}.{self.randrange(256)}.{self.randrange(256)}."
            f"{self.randrange(1, 255)}"
        )
