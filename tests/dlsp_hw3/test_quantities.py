"""Numbers as people write them (graders/checks/quantities.py), with the handout's own numbers:
read by a whitelist, matched at the precision written, garbage refused with a reason; and the
same through ArrayCheck, for every assignment."""

from __future__ import annotations

import numpy as np
import pytest

from graders.checks.base import Probe, ProbeResult
from graders.checks.numeric import ArrayCheck
from graders.checks.quantities import NotAQuantity, parse, read


@pytest.mark.parametrize("text, key", [
    ("150K", 224 * 224 * 3),          # the handout's table: 150,528
    ("3.2M", 224 * 224 * 64),         # 3,211,264
    ("800K", 112 * 112 * 64),         # 802,816
    ("400K", 56 * 56 * 128),          # 401,408
    ("62,378,344", 62_378_344),
    ("62378344", 62_378_344),
    (" 1,728 ", 1728),
    ("1.1157 billion", 1_115_684_864),
    ("1.12B", 1_115_684_864),
    ("1.12 G", 1_115_684_864),
    ("2.8x", 2.81),
    ("64%", 0.644),
    ("1.5e6", 1_540_000),
    ("-3.2", -3.2),
    (".5", 0.52),
    ("13", 13),
])
def test_the_handouts_numbers_match_at_the_precision_written(text, key):
    assert parse(text).covers(key)


@pytest.mark.parametrize("text, key", [
    ("3.3M", 224 * 224 * 64),         # [3.25M, 3.35M) misses 3,211,264
    ("3.21M", 3_215_000),             # [3.205M, 3.215M): the upper end is open
    ("62,378,345", 62_378_344),
    ("1.11 billion", 1_115_684_864),  # [1.105, 1.115) billion: truncated, not rounded
    ("153.6K", 150_528),              # K is 1000, not 1024
    ("14", 13),
    ("2.9x", 2.81),
])
def test_other_values_do_not(text, key):
    assert not parse(text).covers(key)


def test_precision_is_half_a_unit_of_the_last_significant_digit():
    assert parse("3.2M").half == pytest.approx(50_000)
    assert parse("3.20M").half == pytest.approx(5_000)
    assert parse("800K").half == pytest.approx(50_000)   # trailing zeros before a suffix
    assert parse("1000").half == 0.5                      # every digit of a plain integer
    assert parse("2.8x").value == pytest.approx(2.8)
    assert parse("35%").value == pytest.approx(0.35)
    assert parse("1 million").value == 1e6 and parse("2 Thousand").value == 2e3


@pytest.mark.parametrize("text", ["3.2MM", "1e400", "2**30", "eval('1')", "3.2 M K", "1,23",
                                  "", "M", "3.2.1", "0x10", "1_000", "nan", "inf", "3,2",
                                  "__import__('os')", "9" * 80, "3.2  M", "--3"])
def test_garbage_is_refused_with_a_reason(text):
    with pytest.raises(NotAQuantity):
        parse(text)


def test_read_mixes_text_and_numbers_and_leaves_plain_numbers_alone():
    values, halves = read([["150K", 0], ["3.2M", 1728]])
    assert values.shape == (2, 2) and list(halves[:, 1]) == [0.0, 0.0]
    assert read([1.0, 2.0]) is None and read(np.ones(2)) is None
    assert "is not a number" in read(["3.2MM"])
    assert "equal length" in read([["1K"], ["1K", "2K"]])


P = Probe("v", "value", "v")


def evaluate(check, value):
    return check.evaluate({"v": ProbeResult(True, value)})


def test_array_check_reads_written_numbers_and_names_the_form():
    key = [224 * 224 * 3, 224 * 224 * 64, 112 * 112 * 64]
    check = ArrayCheck("c", "t", P, {"k": key}, ["k"], rtol=0, atol=0)
    right = evaluate(check, ["150K", "3.2M", "800,000"])
    assert right.fraction == 0  # 800,000 is written exactly
    right = evaluate(check, ["150K", "3.2M", "800K"])
    assert right.fraction == 1 and "written as text" in right.variant
    assert evaluate(check, [150528, 3211264, 802816]).variant is None
    wrong = evaluate(check, ["150K", "3.3M", "800K"])
    assert wrong.fraction == 0 and "index (1,)" in wrong.message and "3211264" not in wrong.message
    assert "3.2MM' is not a number" in evaluate(check, ["150K", "3.2MM", "800K"]).message


def test_per_element_credit_is_the_share_of_matching_cells():
    check = ArrayCheck("c", "t", P, {"k": [1, 2, 3, 4]}, ["k"], rtol=0, atol=0, per_element=True)
    assert evaluate(check, [1, 2, 3, 5]).fraction == 0.75
    assert evaluate(check, [1, 2, 3, 4]).fraction == 1
