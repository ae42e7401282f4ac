"""reference.true_false only validates the instructor's table."""

import pytest

from reference import true_false


def test_keeps_the_given_statements_in_order():
    assert true_false.build_key({"1.10": True, "1.3": False}) == {"1.3": False, "1.10": True}
    assert true_false.build_key(None) == {}


@pytest.mark.parametrize("params, error", [({"1.11": True}, KeyError), ({"2.1": False}, KeyError),
                                           ({"1.1": "false"}, ValueError), ({"1.1": 0}, ValueError)])
def test_rejects_unknown_ids_and_non_booleans(params, error):
    with pytest.raises(error):
        true_false.build_key(params)
