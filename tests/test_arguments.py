"""The shared argument checks refuse what Python's truthiness would accept."""

import pytest

from registry_widgets.operations.core.arguments import check_bool, check_optional_positive_int, check_positive_int


@pytest.mark.parametrize("value", ["no", "False", "", None, 0, 1, "true"])
def test_check_bool_refuses_everything_but_a_bool(value):
    with pytest.raises(TypeError, match="dry_run must be True or False"):
        check_bool("dry_run", value)


@pytest.mark.parametrize("value", [True, False])
def test_check_bool_passes_bools(value):
    assert check_bool("force", value) is value


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError), (True, TypeError),
                                          ("4", TypeError), (2.0, TypeError), (None, TypeError)])
def test_check_positive_int_refuses(value, error):
    with pytest.raises(error, match="workers"):
        check_positive_int("workers", value)


def test_check_positive_int_passes():
    assert check_positive_int("workers", 8) == 8
    assert check_optional_positive_int("keep", None) is None
