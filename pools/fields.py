"""Model fields for money: integers in the asset's smallest unit, stored as NUMERIC(78,0), never floats."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

# 78 digits hold any uint256 (2**256 - 1 has 78 digits).
UINT256_DIGITS = 78


class WeiField(models.DecimalField):
    """A non-negative integer amount in the smallest unit (wei, or 10**-6 USDC); Python sees `int`."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = UINT256_DIGITS
        kwargs["decimal_places"] = 0
        kwargs.setdefault("validators", [MinValueValidator(0)])
        super().__init__(*args, **kwargs)

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
            from django.core.exceptions import ValidationError

            raise ValidationError("Amounts are whole numbers in the smallest unit.", code="not_integer")
        return int(decimal)

    def get_db_prep_save(self, value, connection):
        if isinstance(value, int):
            value = Decimal(value)
        return super().get_db_prep_save(value, connection)
