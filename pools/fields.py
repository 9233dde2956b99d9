"""Model fields for money: integers in the asset's smallest unit, stored as NUMERIC(78,0), never floats."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import DecimalValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.functional import cached_property

# 78 digits hold any uint256 (2**256 - 1 has 78 digits).
UINT256_DIGITS = 78


class SignedWeiField(models.DecimalField):
    """An integer amount in the smallest unit that may be negative (a difference); Python sees `int`."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = UINT256_DIGITS
        kwargs["decimal_places"] = 0
        super().__init__(*args, **kwargs)

    @cached_property
    def validators(self):
        # Django's DecimalValidator wants a Decimal; ours are ints, bounded by the column's 78 digits instead.
        kept = [v for v in super().validators if not isinstance(v, DecimalValidator)]
        return [*kept, MaxValueValidator(10**UINT256_DIGITS - 1), MinValueValidator(-(10**UINT256_DIGITS - 1))]

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for fixed in ("max_digits", "decimal_places", "validators"):
            kwargs.pop(fixed, None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return None if value is None else int(value)

    def to_python(self, value):
        if value is None or isinstance(value, int):
            return value
        decimal = super().to_python(value)
        if decimal != decimal.to_integral_value():
            raise ValidationError("Amounts are whole numbers in the smallest unit.", code="not_integer")
        return int(decimal)

    def get_db_prep_save(self, value, connection):
        if isinstance(value, int):
            value = Decimal(value)
        return super().get_db_prep_save(value, connection)


class WeiField(SignedWeiField):
    """A non-negative integer amount in the smallest unit (wei, or 10**-6 USDC); Python sees `int`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validators", [MinValueValidator(0)])
        super().__init__(*args, **kwargs)
