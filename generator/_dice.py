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
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Dice(random.Random):
    """A seeded ``random.Random`` (reproducible test data, not secrets) plus the draws made often.

    Subclassing keeps the stdlib's sequence for a seed, so the helpers only name draws.
    """

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def text(self, alphabet: str, n: int) -> str:
        """``n`` characters drawn from ``alphabet``."""
        return "".join(self.choices(alphabet, k=n))

    def alnum(self, n: int) -> str:
        """``n`` letters and digits, as in generated resource-name suffixes."""
        return self.text(ALNUM, n)

    def hex_digits(self, n: int) -> str:
        """``n`` lowercase hex digits, as in resource ids."""
        return self.text(_HEX, n)

    def uuid4(self) -> str:
        """A version-4 UUID string."""
        return _format_uuid4(self.getrandbits(128))

    def unique_id(self, prefix: str) -> str:
        """An IAM unique id (AIDA..., AROA...)."""
        return prefix + self.text(_UPPER_ALNUM, 17)

    def key_id(self, prefix: str) -> str:
        """An access key id (AKIA..., ASIA...)."""
        return prefix + self.text(_KEY_CHARS, 16)

    def pick_weighted(self, items: Sequence[_T], cum: Sequence[float]) -> _T:
        """One of ``items``, weighted by the matching cumulative weights ``cum``."""
        return items[bisect_right(cum, self.random() * cum[-1])]

    def public_ip(self, first: Sequence[int]) -> str:
        """An IPv4 address whose first octet is one of ``first``."""
        return (
            f"{self.choice(first)}.{self.randrange(256)}.{self.randrange(256)}."
            f"{self.randrange(1, 255)}"
        )
