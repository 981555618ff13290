"""Voucher codes: 12 digits, the last a Damm check digit, random from the OS's CSPRNG.

The Damm algorithm detects every single-digit error and every swap of two adjacent
digits, the two mistakes people make when typing a code read off a phone screen.
"""

import secrets
import unicodedata

CODE_LENGTH = 12

# The Damm quasigroup of order 10 (a totally anti-symmetric quasigroup).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits):
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def new_code():
    """A fresh 12-digit code (11 random digits and the check digit); never starts with 0."""
    body = str(secrets.randbelow(9 * 10**10) + 10**10)
    return body + str(damm_digit(body))


def normalise(raw):
    """ASCII digits only: people type spaces and dashes, phone keyboards may send full-width
    digits (folded by NFKC), and anything else that looks like a digit (²) is dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", str(raw)) if ch in "0123456789")


def is_well_formed(code):
    return len(code) == CODE_LENGTH and all(ch in "0123456789" for ch in code) and damm_digit(code) == 0


def grouped(code):
    """`1234 5678 9012`: how codes are shown."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
