"""Voucher codes (DESIGN §9): 12 digits shown in groups of four, never starting with 0, the last
a Damm check digit that catches every single mistyped digit and every swap of two adjacent
digits, so a clerk's typo is refused before any lookup."""

import random
from itertools import product

import pytest
from django.template import Context, Template

from o2o import codes
from o2o.codes import CODE_LENGTH, damm_digit, grouped, is_well_formed, new_code, normalise

RANDOM_CODES = 3000


@pytest.fixture(scope="module")
def sample():
    """Codes as the platform issues them (the OS's CSPRNG), plus the smallest and largest
    bodies. A failure names the code that slipped through."""
    issued = {new_code() for _ in range(RANDOM_CODES)}
    edges = {body + str(damm_digit(body)) for body in ("10000000000", "99999999999")}
    return sorted(issued | edges)


# --- what a code looks like ------------------------------------------------------------------


def test_codes_have_twelve_digits_never_start_with_0_and_carry_their_check_digit(sample):
    for code in sample:
        assert len(code) == CODE_LENGTH == 12
        assert code.isascii() and code.isdigit()
        assert code[0] != "0"
        assert int(code[-1]) == damm_digit(code[:-1])
        assert is_well_formed(code)


def test_the_body_covers_the_whole_range_and_no_more(monkeypatch):
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: 0)
    smallest = new_code()
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: n - 1)
    largest = new_code()

    assert smallest[:11] == "10000000000"
    assert largest[:11] == "99999999999"
    assert is_well_formed(smallest) and is_well_formed(largest)


def test_codes_are_random_not_sequential():
    drawn = [new_code() for _ in range(2000)]

    assert len(set(drawn)) == len(drawn)
    first_digits = {code[0] for code in drawn}
    assert first_digits == set("123456789")  # 2000 draws miss a leading digit with p < 1e-90


def test_codes_are_shown_in_groups_of_four():
    assert grouped("123456789012") == "1234 5678 9012"
    rendered = Template("{% load vouchers %}{{ code|code_groups }}").render(Context({"code": "123456789012"}))
    assert rendered == "1234 5678 9012"


def test_the_qr_code_is_an_inline_svg_of_the_code():
    rendered = Template("{% load vouchers %}{% qr_svg code %}").render(Context({"code": "123456789012"}))

    assert rendered.startswith("<svg") and rendered.rstrip().endswith("</svg>")


# --- what the check digit catches ------------------------------------------------------------


def test_the_damm_table_is_a_totally_anti_symmetric_quasigroup_with_a_zero_diagonal():
    """The property that proves both promises for codes of any length: every row and column
    is a permutation (so one changed digit changes the result) and (c*x)*y == (c*y)*x only
    when x == y (so a swap of neighbours does too)."""
    table = codes._DAMM
    digits = range(10)
    for i in digits:
        assert sorted(table[i]) == list(digits)
        assert sorted(table[r][i] for r in digits) == list(digits)
        assert table[i][i] == 0
    for c, x, y in product(digits, repeat=3):
        if x != y:
            assert table[table[c][x]][y] != table[table[c][y]][x], (c, x, y)


def test_every_single_digit_error_is_caught(sample):
    missed = []
    for code in sample:
        for position in range(CODE_LENGTH):
            for digit in "0123456789":
                if digit != code[position]:
                    typo = code[:position] + digit + code[position + 1 :]
                    if is_well_formed(typo):
                        missed.append((code, typo))
    assert missed == []


def test_every_swap_of_two_adjacent_digits_is_caught(sample):
    missed = []
    swaps = 0
    for code in sample:
        for position in range(CODE_LENGTH - 1):
            a, b = code[position], code[position + 1]
            if a != b:
                swaps += 1
                swapped = code[:position] + b + a + code[position + 2 :]
                if is_well_formed(swapped):
                    missed.append((code, swapped))
    assert swaps > RANDOM_CODES * 8  # most neighbours differ: the test did look at swaps
    assert missed == []


def test_a_wrong_length_or_non_digits_are_not_codes(sample):
    code = sample[0]
    assert not is_well_formed(code[:-1])
    assert not is_well_formed(code + "0")
    assert not is_well_formed("")
    assert not is_well_formed(code[:-1] + "x")
    assert not is_well_formed("abcdefghijkl")


# --- what people type ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["1234 5678 9012", "1234-5678-9012", " 1234  5678\t9012\n", "1234–5678—9012", "CODE:123456789012"],
)
def test_normalise_keeps_only_the_digits(typed):
    assert normalise(typed) == "123456789012"


def test_a_normalised_grouped_code_is_the_code(sample):
    for code in random.Random(7).sample(sample, 200):
        assert normalise(grouped(code)) == code
        assert normalise("-".join(grouped(code).split())) == code


def test_full_width_digits_from_a_chinese_keyboard_are_understood():
    assert normalise("１２３４ ５６７８ ９０１２") == "123456789012"


def test_a_superscript_digit_is_not_a_code():
    assert is_well_formed("12345678901²") is False
