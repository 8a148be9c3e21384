"""Customer lifetime value with BG/NBD and Gamma-Gamma (``lifetimes``).

* :func:`rfm_summary` — per member ``frequency, recency, T, monetary_value`` from a schema
  ``events`` table, defined as in ``lifetimes`` (repeat purchases counted once per period, the
  first purchase excluded from frequency and monetary value; ages measured from the first
  purchase).
* :func:`load_cdnow` / :func:`cdnow_calibration_holdout` — the CDNOW transactions shipped inside
  ``lifetimes`` (Fader & Hardie's 1/10 sample of 2,357 customers, or the full 23,570-customer
  master file), split into a 39-week calibration and a 39-week holdout period, in weeks.
* :func:`fit_ltv` — fit BG/NBD (Fader, Hardie & Lee 2005) and, where there is spend, Gamma-Gamma
  (Fader, Hardie & Lee 2005, "RFM and CLV"); :class:`LtvFit` predicts purchases and CLV.
* :func:`holdout_comparison` — predicted vs actual holdout purchases, by calibration frequency.

Time is measured in periods of ``period_days`` days (1 = days, 7 = weeks).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
from scipy import special

from simlib.schema import TZ

with warnings.catch_warnings():
    # lifetimes sets a pandas option that pandas 3 deprecates; the warning is harmless here.
    warnings.filterwarnings("ignore", message=".*mode.chained_assignment.*")
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
# CLV steps through months as this many periods of the model's time unit (days or weeks),
# the factors lifetimes' customer_lifetime_value uses for freq "D" and "W".
_CLV_PERIODS_PER_MONTH = {1: 30, 7: 4.345}
CDNOW_FILES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}


def bgnbd_conditional_expected_purchases(
    params: Mapping[str, float], t: float, frequency, recency, T
) -> np.ndarray:
    """BG/NBD expected purchases in the next ``t`` periods given (x, t_x, T) — Fader, Hardie
    and Lee (2005), eq. 10 — computed directly.

    lifetimes evaluates the same formula through ``log(hyp2f1(...))``, which is NaN whenever the
    hypergeometric term is negative; that happens, legitimately, when a + b + x − 1 < 0 (a fit
    with small a and b, common in short simulated histories). The direct form has no such gap
    and agrees with lifetimes wherever lifetimes is defined (see tests/test_ltv.py).
    """
    r, alpha, a, b = (float(params[name]) for name in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    c = a + b + x - 1
    z = t / (alpha + T + t)
    tail = ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x, c, z)
    numerator = c / (a - 1) * (1 - tail)
    repeat = np.where(
        x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
    )
    return numerator / (1 + repeat)


class LtvInputError(ValueError):
    """Bad input to an LTV function."""


def _check_period_days(period_days: int) -> int:
    if isinstance(period_days, bool) or not isinstance(period_days, (int, np.integer)) or period_days < 1:
        raise LtvInputError(
            f"period_days={period_days!r}: expected a whole number of days >= 1 (1 = days, 7 = weeks)"
        )
    return int(period_days)


def _naive_local(values: pd.Series) -> pd.Series:
    """Timestamps as naive Asia/Shanghai wall-clock time (lifetimes works on naive datetimes)."""
    values = pd.to_datetime(values)
    if values.dt.tz is not None:
        values = values.dt.tz_convert(TZ).dt.tz_localize(None)
    return values


def _tidy(summary: pd.DataFrame, id_name: str, period_days: int) -> pd.DataFrame:
    out = summary.copy()
    out.index.name = id_name
    out = out.reset_index()
    out[id_name] = out[id_name].astype("string")
    out.attrs["period_days"] = period_days
    return out


# ---------------------------------------------------------------------------------------------
# summaries


def rfm_summary(
    events: pd.DataFrame,
    *,
    observation_end: str | pd.Timestamp | None = None,
    period_days: int = 1,
    purchase_event: str = "purchase",
) -> pd.DataFrame:
    """RFM summary per purchasing member from a schema ``events`` table.

    Returns ``member_id, frequency, recency, T, monetary_value`` (one row per member with at
    least one purchase). ``observation_end`` defaults to the last event in ``events``.
    """
    missing = [c for c in ("ts", "member_id", "event", "amount") if c not in events.columns]
    if missing:
        raise LtvInputError(f"events lacks columns {missing}; has {list(events.columns)}")
    period_days = _check_period_days(period_days)
    all_ts = _naive_local(events["ts"])
    purchases = events.loc[events["event"].astype(str) == purchase_event, ["member_id", "amount"]].copy()
    if purchases.empty:
        raise LtvInputError(f"events has no rows with event == {purchase_event!r}; expected purchases")
    purchases["ts"] = all_ts[purchases.index]
    purchases["member_id"] = purchases["member_id"].astype(str)
    purchases["amount"] = pd.to_numeric(purchases["amount"], errors="raise").fillna(0.0).astype(float)
    if observation_end is None:
        end = all_ts.max()
    else:
        end = _naive_local(pd.Series([pd.Timestamp(observation_end)])).iloc[0]
    if purchases["ts"].min() > end:
        raise LtvInputError(f"observation_end={end} is before the first purchase ({purchases['ts'].min()})")
    purchases = purchases[purchases["ts"] <= end]
    summary = summary_data_from_transaction_data(
        purchases, "member_id", "ts", monetary_value_col="amount",
        observation_period_end=end, freq="D", freq_multiplier=period_days,
    )
    return _tidy(summary[SUMMARY_COLUMNS].astype(float), "member_id", period_days)


def cdnow_path(which: str = "sample") -> str:
    """Path of a CDNOW file shipped in ``lifetimes/datasets``."""
    if which not in CDNOW_FILES:
        raise LtvInputError(f"which={which!r}: expected one of {sorted(CDNOW_FILES)}")
    return str(resources.files("lifetimes").joinpath("datasets", CDNOW_FILES[which]))


def load_cdnow(which: str = "sample") -> pd.DataFrame:
    """CDNOW transactions: ``customer_id, date, cds, amount`` (US dollars).

    ``"sample"`` is the 2,357-customer 1/10 sample used in the BG/NBD paper (customer ids are
    the sample's ids); ``"master"`` the full 23,570-customer cohort. Both cover 1997-01-01 to
    1998-06-30 for customers whose first purchase was in the first quarter of 1997.
    """
    path = cdnow_path(which)
    if which == "sample":
        names = ["master_id", "customer_id", "date", "cds", "amount"]
        dtypes = {"master_id": str, "customer_id": str, "date": str}
        frame = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype=dtypes)
        frame = frame.drop(columns="master_id")
    else:
        frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
        frame = frame.rename(columns={"number_of_cds": "cds", "dollar_value": "amount"})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame[["customer_id", "date", "cds", "amount"]]


def calibration_holdout(
    transactions: pd.DataFrame,
    *,
    calibration_end: str | pd.Timestamp,
    observation_end: str | pd.Timestamp,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    period_days: int = 7,
) -> pd.DataFrame:
    """Calibration/holdout summary: ``frequency_cal, recency_cal, T_cal, monetary_value_cal,
    frequency_holdout, monetary_value_holdout, duration_holdout`` per customer."""
    period_days = _check_period_days(period_days)
    for column in [customer_col, date_col] + ([amount_col] if amount_col else []):
        if column not in transactions.columns:
            raise LtvInputError(f"transactions lacks column {column!r}; has {list(transactions.columns)}")
    calibration_end, observation_end = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    if not calibration_end < observation_end:
        raise LtvInputError(
            f"calibration_end={calibration_end.date()} must be before "
            f"observation_end={observation_end.date()}"
        )
    frame = transactions.copy()
    frame[date_col] = _naive_local(frame[date_col])
    frame[customer_col] = frame[customer_col].astype(str)
    summary = calibration_and_holdout_data(
        frame, customer_col, date_col,
        calibration_period_end=calibration_end, observation_period_end=observation_end,
        freq="D", freq_multiplier=period_days, monetary_value_col=amount_col,
    )
    return _tidy(summary.astype(float), customer_col, period_days)


def cdnow_calibration_holdout(
    which: str = "sample", calibration_end: str = "1997-09-30", observation_end: str = "1998-06-30"
) -> pd.DataFrame:
    """CDNOW split as in Fader, Hardie & Lee (2005): 39 + 39 weeks, time in weeks."""
    return calibration_holdout(
        load_cdnow(which), calibration_end=calibration_end, observation_end=observation_end, period_days=7
    )


# ---------------------------------------------------------------------------------------------
# models


def _rfm_columns(summary: pd.DataFrame) -> dict[str, str]:
    """Map frequency/recency/T/monetary_value to the summary's columns (plain or ``_cal``)."""
    suffix = "_cal" if "frequency_cal" in summary.columns else ""
    mapping = {name: name + suffix for name in SUMMARY_COLUMNS}
    missing = [c for name, c in mapping.items() if name != "monetary_value" and c not in summary.columns]
    if missing:
        raise LtvInputError(
            f"summary lacks columns {missing}; expected frequency, recency, T[, monetary_value] "
            f"(or the same with _cal); has {list(summary.columns)}"
        )
    return mapping


@dataclass(frozen=True)
class LtvFit:
    """Fitted BG/NBD (+ Gamma-Gamma when spend is known) on an RFM summary."""

    summary: pd.DataFrame  # id column + frequency, recency, T[, monetary_value]
    id_column: str
    period_days: int
    bgf: BetaGeoFitter
    ggf: GammaGammaFitter | None

    @property
    def params(self) -> pd.DataFrame:
        """Tidy table: model, parameter, value, se."""
        rows = []
        for model, fitter in (("bg_nbd", self.bgf), ("gamma_gamma", self.ggf)):
            if fitter is None:
                continue
            errors = fitter.standard_errors_
            for name, value in fitter.params_.items():
                rows.append(
                    {"model": model, "parameter": name, "value": float(value), "se": float(errors[name])}
                )
        return pd.DataFrame(rows)

    def _arrays(self) -> tuple[pd.Series, pd.Series, pd.Series]:
        s = self.summary
        return s["frequency"], s["recency"], s["T"]

    def predict_purchases(self, t: float) -> pd.DataFrame:
        """Expected purchases per customer in the next ``t`` periods, and P(alive) now."""
        if not (isinstance(t, (int, float, np.integer, np.floating)) and t >= 0 and math.isfinite(t)):
            raise LtvInputError(f"t={t!r}: expected a number of periods >= 0")
        frequency, recency, T = self._arrays()
        expected = bgnbd_conditional_expected_purchases(self.bgf.params_, t, frequency, recency, T)
        alive = self.bgf.conditional_probability_alive(frequency, recency, T)
        return pd.DataFrame(
            {
                self.id_column: self.summary[self.id_column].to_numpy(),
                "expected_purchases": np.asarray(expected, dtype=float),
                "p_alive": np.asarray(alive, dtype=float),
            }
        )

    def expected_average_value(self) -> pd.Series:
        """Gamma-Gamma expected value of a future purchase, per customer."""
        if self.ggf is None:
            raise LtvInputError(
                "no Gamma-Gamma model: the summary has no monetary_value with repeat purchases"
            )
        value = self.ggf.conditional_expected_average_profit(
            self.summary["frequency"], self.summary["monetary_value"]
        )
        return pd.Series(np.asarray(value, dtype=float), index=self.summary.index)

    def clv(self, months: int = 12, discount_rate: float = 0.01) -> pd.DataFrame:
        """Discounted CLV over ``months`` with a monthly ``discount_rate`` (lifetimes' method).

        Returns ``id, expected_purchases, expected_average_value, clv``.
        """
        if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
            raise LtvInputError(f"months={months!r}: expected a whole number of months >= 1")
        if not 0 <= discount_rate < 1:
            raise LtvInputError(f"discount_rate={discount_rate!r}: expected a monthly rate in [0, 1)")
        if self.period_days not in _CLV_PERIODS_PER_MONTH:
            raise LtvInputError(
                f"period_days={self.period_days}: CLV supports {sorted(_CLV_PERIODS_PER_MONTH)} "
                "(days or weeks)"
            )
        if self.ggf is None:
            raise LtvInputError(
                "no Gamma-Gamma model: the summary has no monetary_value with repeat purchases"
            )
        frequency, recency, T = self._arrays()
        periods_per_month = _CLV_PERIODS_PER_MONTH[self.period_days]
        # lifetimes' customer_lifetime_value, with the direct BG/NBD expectation (no NaN gaps):
        # month i contributes (E[purchases by i] − E[purchases by i−1]) × expected value, discounted.
        average_value = self.expected_average_value().to_numpy()
        value = np.zeros(len(self.summary))
        before = np.zeros(len(self.summary))
        for month in range(1, int(months) + 1):
            by_month = bgnbd_conditional_expected_purchases(
                self.bgf.params_, month * periods_per_month, frequency, recency, T
            )
            value += average_value * (by_month - before) / (1 + discount_rate) ** month
            before = by_month
        expected = before
        return pd.DataFrame(
            {
                self.id_column: self.summary[self.id_column].to_numpy(),
                "expected_purchases": np.asarray(expected, dtype=float),
                "expected_average_value": self.expected_average_value().to_numpy(),
                "clv": np.asarray(value, dtype=float),
            }
        )


def fit_ltv(summary: pd.DataFrame, *, penalizer: float = 0.0, period_days: int | None = None) -> LtvFit:
    """Fit BG/NBD on ``summary`` (plain or calibration columns) and Gamma-Gamma on its
    repeat customers with positive spend (if ``monetary_value`` is present)."""
    mapping = _rfm_columns(summary)
    if period_days is None:
        period_days = summary.attrs.get("period_days", 1)
    period_days = _check_period_days(period_days)
    id_column = next((c for c in summary.columns if c not in _all_rfm_columns()), None)
    if id_column is None:
        id_column = "customer_id"
        ids = pd.Series(summary.index.astype(str), dtype="string")
    else:
        ids = summary[id_column].astype("string")
    data = pd.DataFrame({id_column: ids.to_numpy()})
    for name, column in mapping.items():
        if column in summary.columns:
            data[name] = pd.to_numeric(summary[column], errors="raise").astype(float).to_numpy()
    if len(data) < 10:
        raise LtvInputError(f"summary has {len(data)} customers: expected at least 10 to fit BG/NBD")
    bad = data[(data["frequency"] < 0) | (data["recency"] < 0) | (data["recency"] > data["T"])]
    if len(bad):
        raise LtvInputError(
            f"summary has {len(bad)} rows with frequency < 0 or recency outside [0, T] "
            f"(first: {bad.iloc[0].to_dict()})"
        )
    bgf = BetaGeoFitter(penalizer_coef=penalizer)
    bgf.fit(data["frequency"], data["recency"], data["T"])
    ggf = None
    if "monetary_value" in data.columns:
        repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
        if len(repeat) >= 10:
            ggf = GammaGammaFitter(penalizer_coef=penalizer)
            ggf.fit(repeat["frequency"], repeat["monetary_value"])
    data.attrs["period_days"] = period_days
    return LtvFit(data, id_column, period_days, bgf, ggf)


def _all_rfm_columns() -> set[str]:
    names = set(SUMMARY_COLUMNS)
    names |= {c + "_cal" for c in SUMMARY_COLUMNS}
    names |= {"frequency_holdout", "monetary_value_holdout", "duration_holdout"}
    return names


def holdout_comparison(fit: LtvFit, cal_holdout: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean predicted vs actual holdout purchases by calibration frequency (0 … ``max_frequency``+).

    Returns ``frequency_cal, customers, actual, predicted, actual_total, predicted_total``.
    ``cal_holdout`` is the frame :func:`fit_ltv` was fitted on (from :func:`calibration_holdout`).
    """
    needed = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    missing = [c for c in needed if c not in cal_holdout.columns]
    if missing:
        raise LtvInputError(
            f"cal_holdout lacks columns {missing}; expected the output of calibration_holdout"
        )
    predicted = fit.bgf.conditional_expected_number_of_purchases_up_to_time(
        cal_holdout["duration_holdout"],
        cal_holdout["frequency_cal"],
        cal_holdout["recency_cal"],
        cal_holdout["T_cal"],
    )
    frame = pd.DataFrame(
        {
            "bucket": np.minimum(cal_holdout["frequency_cal"].to_numpy(), max_frequency).astype(int),
            "actual": cal_holdout["frequency_holdout"].to_numpy(dtype=float),
            "predicted": np.asarray(predicted, dtype=float),
        }
    )
    grouped = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"),
        actual_total=("actual", "sum"), predicted_total=("predicted", "sum"),
    )
    grouped = grouped.reset_index()
    labels = grouped["bucket"].astype(str)
    labels[grouped["bucket"] == max_frequency] = f"{max_frequency}+"
    grouped.insert(0, "frequency_cal", labels)
    return grouped.drop(columns="bucket")
