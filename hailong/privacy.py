"""Personal data kept out of storage (Law 91/2025/QH15 on personal data).

Free-text comments (góp ý) are scrubbed before they are stored: phone numbers, e-mail
addresses and identity-card / passport numbers become a placeholder. What a citizen
says about the service stays; how to reach or identify them does not.
"""

from __future__ import annotations

import re

PLACEHOLDER = "[đã ẩn]"  # "hidden"

_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # e-mail
    re.compile(r"(?<!\d)(\+?84|0)([\s.-]?\d){8,10}(?!\d)"),  # VN phone numbers
    re.compile(r"(?<!\d)\d{9}(\d{3})?(?!\d)"),  # CMND (9) / CCCD (12)
    re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{7}(?![A-Za-z0-9])"),  # passport numbers
]


def scrub(text: str) -> str:
    """The text with personal identifiers replaced by a placeholder."""
    for pattern in _PATTERNS:
        text = pattern.sub(PLACEHOLDER, text)
    return text
