"""The sample design: how a data set was drawn, and so how its variance is computed.

A :class:`Design` names the *columns* that carry the design (weights, strata,
primary and later-stage sampling units, finite-population corrections,
replicate weights) and says how variance is estimated (Taylor linearisation, or
one of the replicate-weight methods with its scale factors) and what to do
with a stratum that has a single sampling unit. It computes nothing; the
engine reads the columns and the estimators use the settings. It mirrors R's
``survey::svydesign`` and ``survey::svrepdesign`` (see ``docs/estimation.md``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias, get_args

from migprofile.errors import MigprofileError

if TYPE_CHECKING:  # pragma: no cover
    from migprofile.sources.mapping import DesignSpec

__all__ = [
    "LONELY_PSU_POLICIES",
    "REPLICATE_METHODS",
    "Design",
    "DesignColumnError",
    "DesignError",
    "LonelyPSU",
    "LonelyPSUError",
    "ReplicateMethod",
]

ReplicateMethod: TypeAlias = Literal["JK1", "JKn", "BRR", "Fay", "bootstrap", "SDR", "ACS", "other"]
LonelyPSU: TypeAlias = Literal["fail", "remove", "adjust", "average", "certainty"]

#: The replicate-weight methods, as in R's ``svrepdesign(type=)`` (``SDR`` is
#: R's ``"successive-difference"``).
REPLICATE_METHODS: tuple[str, ...] = get_args(ReplicateMethod)
#: The policies for a stratum with a single sampling unit, as R's
#: ``options(survey.lonely.psu=)``.
LONELY_PSU_POLICIES: tuple[str, ...] = get_args(LonelyPSU)


class DesignError(ValueError, MigprofileError):
    """A design is inconsistent, or its columns hold values it cannot use.

    ``field`` names the :class:`Design` field at fault (``"fpc"``,
    ``"replicate_method"``, ...), ``column`` the data column when there is one.
    """

    def __init__(self, message: str, field: str | None = None, column: str | None = None) -> None:
        self.field = field
        self.column = column
        super().__init__(message)


class DesignColumnError(KeyError, MigprofileError):
    """A column named by the design is not in the data."""

    def __init__(self, column: str, field: str, available: Iterable[object] = ()) -> None:
        self.column = column
        self.field = field
        self.available: tuple[str, ...] = tuple(str(c) for c in available)
        super().__init__(column)

    def __str__(self) -> str:
        text = f"the design's {self.field} column {self.column!r} is not in the data"
        if self.available:
            shown = ", ".join(self.available[:20])
            more = ", ..." if len(self.available) > 20 else ""
            text += f" (columns: {shown}{more})"
        return text


class LonelyPSUError(ValueError, MigprofileError):
    """A stratum has a single sampling unit and the design's policy is ``fail``.

    ``stratum`` is the stratum's label (for a later stage, the stage's stratum
    followed by a dot and the unit of the stage above, as R writes it) and
    ``stage`` the sampling stage (1 for PSUs).
    """

    def __init__(self, stratum: str, stage: int) -> None:
        self.stratum = stratum
        self.stage = stage
        super().__init__(
            f"Stratum ({stratum}) has only one PSU at stage {stage}; set the design's "
            "lonely_psu to 'remove', 'adjust', 'average' or 'certainty' to estimate "
            "its variance anyway"
        )


def _columns(value: object, field: str) -> tuple[str, ...]:
    """A column name or a list of them, as a tuple of non-empty strings."""
    if value is None:
        return ()
    items: Sequence[object]
    if isinstance(value, str):
        items = (value,)
    elif isinstance(value, Sequence):
        items = value
    else:
        raise DesignError(
            f"{field} must be a column name or a list of column names, "
            f"got {type(value).__name__}",
            field,
        )
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise DesignError(f"{field} must name columns (non-empty strings), got {item!r}", field)
        out.append(item)
    return tuple(out)


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DesignError(f"{field} must be a number, got {value!r}", field)
    number = float(value)
    if not math.isfinite(number):
        raise DesignError(f"{field} must be finite, got {value!r}", field)
    return number


@dataclass(frozen=True, init=False)
class Design:
    """A sample design (frozen; build a changed copy with :func:`dataclasses.replace`).

    Every field that names data is a column name:

    - ``weights``: the sampling (analysis) weight. When it is ``None`` the
      weight is derived from the finite-population corrections if they are
      given (as R does: the product over stages of population over sample
      units), else it is 1 for every record.
    - ``strata``: the first-stage strata (a list gives one per stage; a later
      stage's strata are nested in the unit of the stage above).
    - ``psu``: the sampling units, one column per stage (``["district",
      "school"]``); ``None`` means every record is its own unit.
    - ``fpc``: finite-population corrections, one column per stage. As in R, if
      any value is above 1 they are population sizes (the number of units in
      the stratum at that stage); otherwise they are sampling fractions.
      Without ``fpc`` sampling is taken to be with replacement and only the
      first stage enters the variance (the "ultimate cluster" estimator).
    - ``replicate_weights``: the replicate weight columns, as a list or as a
      regular expression searched in the column names (like R's ``grep``), in
      the order of the data's columns. They must be full ("combined") weights,
      i.e. already multiplied by the sampling weight.

    ``replicate_method`` is one of ``JK1, JKn, BRR, Fay, bootstrap, SDR, ACS,
    other``; ``replicate_scale`` and ``replicate_rscales`` override the
    method's default factors (those of R's ``svrepdesign``); ``fay_rho`` is
    Fay's perturbation factor; ``mse=True`` centres the replicate deviations on
    the full-sample estimate rather than on the mean of the replicates.
    ``lonely_psu`` is the policy for a stratum with one sampling unit: ``fail``,
    ``remove``, ``adjust``, ``average`` or ``certainty`` (R's
    ``survey.lonely.psu``).

    Invalid combinations raise :class:`DesignError` (a ``ValueError``) naming
    the field.
    """

    weights: str | None
    strata: tuple[str, ...]
    psu: tuple[str, ...]
    fpc: tuple[str, ...]
    replicate_weights: tuple[str, ...] | str | None
    replicate_method: ReplicateMethod | None
    replicate_scale: float | None
    replicate_rscales: tuple[float, ...] | None
    mse: bool
    lonely_psu: LonelyPSU
    fay_rho: float | None

    def __init__(
        self,
        weights: str | None = None,
        strata: str | Sequence[str] | None = None,
        psu: str | Sequence[str] | None = None,
        fpc: str | Sequence[str] | None = None,
        replicate_weights: Sequence[str] | str | None = None,
        replicate_method: ReplicateMethod | None = None,
        replicate_scale: float | None = None,
        replicate_rscales: Sequence[float] | None = None,
        mse: bool = False,
        lonely_psu: LonelyPSU = "fail",
        fay_rho: float | None = None,
    ) -> None:
        if weights is not None and (not isinstance(weights, str) or not weights):
            raise DesignError(f"weights must name a column, got {weights!r}", "weights")
        strata_t = _columns(strata, "strata")
        psu_t = _columns(psu, "psu")
        fpc_t = _columns(fpc, "fpc")

        reps: tuple[str, ...] | str | None
        if replicate_weights is None:
            reps = None
        elif isinstance(replicate_weights, str):
            try:
                re.compile(replicate_weights)
            except re.error as exc:
                raise DesignError(
                    f"replicate_weights is not a valid regular expression: {exc}",
                    "replicate_weights",
                ) from None
            reps = replicate_weights
        else:
            reps = _columns(replicate_weights, "replicate_weights")
            if not reps:
                raise DesignError("replicate_weights must not be empty", "replicate_weights")
            if len(set(reps)) != len(reps):
                raise DesignError("replicate_weights lists a column twice", "replicate_weights")

        if replicate_method is not None and replicate_method not in REPLICATE_METHODS:
            raise DesignError(
                f"replicate_method must be one of {', '.join(REPLICATE_METHODS)}, "
                f"got {replicate_method!r}",
                "replicate_method",
            )
        if lonely_psu not in LONELY_PSU_POLICIES:
            raise DesignError(
                f"lonely_psu must be one of {', '.join(LONELY_PSU_POLICIES)}, got {lonely_psu!r}",
                "lonely_psu",
            )
        if not isinstance(mse, bool):
            raise DesignError(f"mse must be true or false, got {mse!r}", "mse")

        scale = None if replicate_scale is None else _number(replicate_scale, "replicate_scale")
        if scale is not None and scale <= 0:
            raise DesignError(f"replicate_scale must be positive, got {scale}", "replicate_scale")
        rscales: tuple[float, ...] | None = None
        if replicate_rscales is not None:
            if isinstance(replicate_rscales, str | bytes) or not isinstance(
                replicate_rscales, Sequence
            ):
                raise DesignError(
                    "replicate_rscales must be a list of numbers", "replicate_rscales"
                )
            rscales = tuple(_number(v, "replicate_rscales") for v in replicate_rscales)
            if not rscales or any(v < 0 for v in rscales):
                raise DesignError(
                    "replicate_rscales must be a non-empty list of numbers >= 0",
                    "replicate_rscales",
                )
        rho = None if fay_rho is None else _number(fay_rho, "fay_rho")

        if (reps is None) != (replicate_method is None):
            field = "replicate_method" if reps is not None else "replicate_weights"
            raise DesignError("replicate_weights and replicate_method go together", field)
        if reps is not None:
            for field, given in (("strata", strata_t), ("psu", psu_t), ("fpc", fpc_t)):
                if given:
                    raise DesignError(
                        f"a replicate-weight design carries its design in the replicate "
                        f"weights; it takes no {field}",
                        field,
                    )
        else:
            for field, given_value in (
                ("replicate_scale", scale),
                ("replicate_rscales", rscales),
            ):
                if given_value is not None:
                    raise DesignError(f"{field} needs replicate_weights", field)
            if mse:
                raise DesignError("mse applies to replicate-weight designs only", "mse")
        if replicate_method == "Fay":
            if rho is None:
                raise DesignError("replicate_method 'Fay' needs fay_rho", "fay_rho")
            if not 0 <= rho < 1:
                raise DesignError(f"fay_rho must be in [0, 1), got {rho}", "fay_rho")
        elif rho is not None:
            raise DesignError("fay_rho is only used with replicate_method 'Fay'", "fay_rho")
        if replicate_method == "JKn" and rscales is None:
            raise DesignError(
                "replicate_method 'JKn' needs replicate_rscales, (n_h - 1) / n_h for the "
                "stratum of each replicate",
                "replicate_rscales",
            )
        if replicate_method == "other" and scale is None:
            raise DesignError("replicate_method 'other' needs replicate_scale", "replicate_scale")

        stages = max(len(psu_t), 1)
        if len(strata_t) > stages:
            raise DesignError(
                f"strata gives {len(strata_t)} columns for a design of {stages} stage(s)",
                "strata",
            )
        if fpc_t and len(fpc_t) != stages:
            raise DesignError(
                f"give one fpc column per sampling stage: {stages} stage(s), "
                f"{len(fpc_t)} fpc column(s)",
                "fpc",
            )

        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "strata", strata_t)
        object.__setattr__(self, "psu", psu_t)
        object.__setattr__(self, "fpc", fpc_t)
        object.__setattr__(self, "replicate_weights", reps)
        object.__setattr__(self, "replicate_method", replicate_method)
        object.__setattr__(self, "replicate_scale", scale)
        object.__setattr__(self, "replicate_rscales", rscales)
        object.__setattr__(self, "mse", mse)
        object.__setattr__(self, "lonely_psu", lonely_psu)
        object.__setattr__(self, "fay_rho", rho)

    # ------------------------------------------------------------------ properties

    @property
    def variance(self) -> Literal["taylor", "replicate"]:
        """How variance is estimated: ``"replicate"`` with replicate weights,
        else ``"taylor"`` (linearisation)."""
        return "replicate" if self.replicate_weights is not None else "taylor"

    @property
    def stages(self) -> int:
        """The number of sampling stages declared (1 when ``psu`` is ``None``)."""
        return max(len(self.psu), 1)

    @property
    def variance_stages(self) -> int:
        """The stages that enter the Taylor variance: all of them with
        finite-population corrections, only the first without (R's rule)."""
        return self.stages if self.fpc else 1

    def columns(self) -> tuple[str, ...]:
        """Every column the design names (a replicate regex is not expanded)."""
        cols = [c for c in (self.weights,) if c]
        cols += [*self.strata, *self.psu, *self.fpc]
        if isinstance(self.replicate_weights, tuple):
            cols += list(self.replicate_weights)
        return tuple(dict.fromkeys(cols))

    def replicate_columns(self, available: Sequence[str]) -> tuple[str, ...]:
        """The replicate weight columns among ``available`` (the data's columns).

        A list is checked (a missing column raises :class:`DesignColumnError`);
        a regular expression is searched in every column name except the
        design's other columns, in the order of ``available``.
        """
        reps = self.replicate_weights
        if reps is None:
            return ()
        if isinstance(reps, tuple):
            present = set(available)
            for col in reps:
                if col not in present:
                    raise DesignColumnError(col, "replicate_weights", available)
            return reps
        pattern = re.compile(reps)
        others = set(self.columns())
        found = tuple(c for c in available if c not in others and pattern.search(c))
        if not found:
            raise DesignError(
                f"no column matches replicate_weights {reps!r}", "replicate_weights"
            )
        return found

    def replicate_factors(self, n_replicates: int) -> tuple[float, tuple[float, ...]]:
        """``(scale, rscales)`` for ``n_replicates`` replicates.

        Defaults as R's ``svrepdesign``: JK1 ``(R-1)/R``; BRR ``1/R``; Fay
        ``1/(R (1-rho)^2)``; bootstrap ``1/(R-1)``; SDR and ACS ``4/R``; JKn
        ``1`` with the given ``rscales``; ``other`` needs a scale. ``rscales``
        default to 1. A given ``replicate_scale`` overrides the default.
        """
        method = self.replicate_method
        r = n_replicates
        if method is None:
            raise DesignError("not a replicate-weight design", "replicate_method")
        if r < 2:
            raise DesignError(
                f"a replicate-weight design needs at least 2 replicates, got {r}",
                "replicate_weights",
            )
        if self.replicate_scale is not None:
            scale = self.replicate_scale
        elif method == "JK1":
            scale = (r - 1) / r
        elif method == "BRR":
            scale = 1 / r
        elif method == "Fay":
            rho = self.fay_rho if self.fay_rho is not None else 0.0
            scale = 1 / (r * (1 - rho) ** 2)
        elif method == "bootstrap":
            scale = 1 / (r - 1)
        elif method in ("SDR", "ACS"):
            scale = 4 / r
        else:  # JKn (other is rejected at construction without a scale)
            scale = 1.0
        if self.replicate_rscales is None:
            rscales = (1.0,) * r
        elif len(self.replicate_rscales) == 1:
            rscales = self.replicate_rscales * r
        elif len(self.replicate_rscales) == r:
            rscales = self.replicate_rscales
        else:
            raise DesignError(
                f"replicate_rscales has {len(self.replicate_rscales)} values for "
                f"{r} replicate weight columns",
                "replicate_rscales",
            )
        return scale, rscales

    # ------------------------------------------------------------------ building

    @classmethod
    def from_spec(cls, spec: DesignSpec) -> Design:
        """The design a source mapping declares
        (:class:`~migprofile.sources.mapping.DesignSpec`)."""
        rscales = getattr(spec, "replicate_rscales", None)
        return cls(
            weights=spec.weights,
            strata=spec.strata,
            psu=spec.psu or None,
            fpc=spec.fpc or None,
            replicate_weights=spec.replicate_weights,
            replicate_method=spec.replicate_method,
            replicate_scale=spec.replicate_scale,
            replicate_rscales=rscales,
            mse=spec.mse,
            lonely_psu=spec.lonely_psu,
            fay_rho=spec.fay_rho,
        )

    def describe(self) -> str:
        """A one-line, stable description of the design."""
        parts = [f"variance={self.variance}", f"weights={self.weights or '(1 or from fpc)'}"]
        if self.variance == "taylor":
            parts.append("strata=" + (",".join(self.strata) or "(none)"))
            parts.append("psu=" + (",".join(self.psu) or "(records)"))
            parts.append("fpc=" + (",".join(self.fpc) or "(none: with replacement)"))
            parts.append(f"lonely_psu={self.lonely_psu}")
        else:
            reps = self.replicate_weights
            shown = reps if isinstance(reps, str) else f"{len(reps or ())} columns"
            parts.append(f"replicates={shown}")
            parts.append(f"method={self.replicate_method}")
            if self.replicate_scale is not None:
                parts.append(f"scale={self.replicate_scale!r}")
            if self.replicate_rscales is not None:
                parts.append(f"rscales={len(self.replicate_rscales)} values")
            if self.fay_rho is not None:
                parts.append(f"rho={self.fay_rho!r}")
            parts.append(f"mse={self.mse}")
        return "Design(" + "; ".join(parts) + ")"
