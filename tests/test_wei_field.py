import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from pools.fields import WeiField
from pools.models import Pool
from tests.factories import PoolFactory


@pytest.mark.django_db
def test_the_largest_uint256_survives_the_database_as_an_int():
    pool = PoolFactory(hard_cap=2**256 - 1)

    stored = Pool.objects.get(pk=pool.pk).hard_cap

    assert stored == 2**256 - 1
    assert isinstance(stored, int)


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_to_python_keeps_every_integer_exactly(amount):
    field = WeiField()

    assert field.to_python(str(amount)) == amount


def test_fractions_of_the_smallest_unit_are_refused():
    with pytest.raises(ValidationError):
        WeiField().to_python("1.5")
