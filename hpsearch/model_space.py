"""A search space checked against a built-in model's hyperparameters at launch.

`models.hparams` knows every name, type and range a network and its training recipe accept
(torch-free). A space that asks for a name the model lacks, an even `kernel_size` or a
`depth` beyond the model's range would pass the campaign file and fail every trial; here it
is one line naming the field and the accepted range, before anything is created.
"""

from __future__ import annotations

from hpsearch.errors import UserError
from hpsearch.space import CategoricalParam, FloatParam, IntParam, Param, SearchSpace
from models.hparams import SPECS, Choice, Float, Int
from models.tasks import MODEL_DEFAULTS


def check_space(model: str, space: SearchSpace) -> None:
    """Raise UserError for the first parameter `model` cannot take."""
    known = MODEL_DEFAULTS.get(model)
    if known is None:
        return  # unknown models are reported by the objective's own check
    for param in space.params:
        if param.name not in known:
            raise UserError(f"search_space.{param.name}: model {model} has no such "
                            f"hyperparameter; known: {', '.join(sorted(known))}")
        _check_param(param, SPECS[param.name])


def _values(param: Param) -> list[object] | None:
    """Every value an int or categorical parameter can take (None: a continuous range)."""
    if isinstance(param, CategoricalParam):
        return list(param.choices)
    if isinstance(param, IntParam) and not param.log:
        return list(range(param.low, param.high + 1, param.step))
    return None


def _check_param(param: Param, spec: Int | Float | Choice) -> None:
    where = f"search_space.{param.name}"
    values = _values(param)
    if isinstance(spec, Choice):
        if not isinstance(param, CategoricalParam):
            raise UserError(f"{where}.type: must be categorical, {spec.describe()}")
        bad = [v for v in param.choices if v not in spec.options]
        if bad:
            raise UserError(f"{where}.choices: {bad[0]!r} is not accepted; {spec.describe()}")
        return
    if isinstance(spec, Int) and isinstance(param, FloatParam):
        raise UserError(f'{where}.type: must be "int" (or categorical), {spec.describe()}')
    if values is not None:
        for value in values:
            try:
                spec.coerce(param.name, value)
            except ValueError:
                field = "choices" if isinstance(param, CategoricalParam) else _bound(spec, value)
                hint = ("; use an odd low with step = 2" if isinstance(spec, Int) and spec.odd
                        and isinstance(param, IntParam) else "")
                raise UserError(f"{where}.{field}: {value!r} is not accepted; "
                                f"{spec.describe()}{hint}") from None
        return
    assert isinstance(param, FloatParam | IntParam)
    for field, value in (("low", param.low), ("high", param.high)):
        try:
            spec.coerce(param.name, value)
        except ValueError:
            raise UserError(f"{where}.{field}: {value!r} is not accepted; "
                            f"{spec.describe()}") from None


def _bound(spec: Int | Float, value: object) -> str:
    """The field of an int range that let `value` in: high or low when out of the model's
    range, step when inside it (an even kernel size)."""
    if isinstance(value, int | float) and value > spec.high:
        return "high"
    if isinstance(value, int | float) and value < spec.low:
        return "low"
    return "step"
