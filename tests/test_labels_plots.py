import subprocess
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from simlib import labels, plots  # noqa: E402
from simlib.schema import CHANNELS, CONTENT_TYPES, EVENT_TYPES, TIERS  # noqa: E402

# --------------------------------------------------------------------------------------- labels


def test_catalog_is_generous_and_complete():
    assert len(labels.LABELS) >= 120
    for key, entry in labels.LABELS.items():
        assert set(entry) == {"zh", "en"}, key
        assert plots.contains_cjk(entry["zh"]) or key in {"ugc", "f1"}, key
        assert not plots.contains_cjk(entry["en"]), key
    required = TIERS + CHANNELS + [c for c in CONTENT_TYPES if c != "other"] + [
        "checkin", "referral_lottery", "live_flash_sale", "ugc",
        "ecommerce", "paid_knowledge", "brand_deal", "membership",
        "info_leak", "opinion_crisis", "data_loss", "violation",
        "retention_d30", "retention_d90", "messages_per_100_members_per_day", "revisit_7d",
        "activity_conversion", "share_rate", "revenue_per_member", "ltv", "cost", "roi", "exits",
        "members", "admin_wait_minutes", "response_time", "commercial_share", "open_rate",
        "interaction_rate", "day", "date", "scenario", "tier", "count", "share",
    ]
    assert [k for k in required if k not in labels.LABELS] == []
    assert "message" in EVENT_TYPES  # schema import is real


def test_article_terms():
    assert labels.label("loyal", "zh") == "忠诚用户"
    assert labels.label("messages_per_100_members_per_day", "zh") == "日均发言量(条/百人)"
    assert labels.label("xiaohongshu", "en") == "Xiaohongshu"


def test_unknown_key_suggests_near_keys():
    with pytest.raises(KeyError, match="retention_d30"):
        labels.label("retention_30d", "en")
    with pytest.raises(ValueError, match="lang='fr'"):
        labels.label("tier", "fr")


def test_display_falls_back_to_the_value_itself():
    assert labels.display("loyal", "en") == "Loyal"
    assert labels.display("title_frontier", "zh").startswith("人均收入")
    assert labels.display("a_kpi_of_my_own", "zh") == "a_kpi_of_my_own"
    assert labels.display(3, "en") == "3"


def test_report_texts_are_in_both_languages():
    assert len(labels.report_texts()) >= 60
    for key, entry in labels.report_texts().items():
        assert set(entry) == {"zh", "en"}, key
        zh_fields = {part.split("}")[0] for part in entry["zh"].split("{")[1:]}
        en_fields = {part.split("}")[0] for part in entry["en"].split("{")[1:]}
        assert zh_fields == en_fields, key  # the same values fill both languages
    assert labels.report_text("column_rank", "zh") == "名次"
    with pytest.raises(ValueError, match="lang='fr'"):
        labels.report_text("title", "fr")


def test_without_cjk():
    assert plots.without_cjk("分层运营 Tiered") == "Tiered"
    assert plots.without_cjk("方案 A（试点）") == "A"


def test_weekday_labels():
    assert [labels.weekday_label(i, "en") for i in range(7)] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
                                                                  "Sun"]
    assert labels.weekday_label(np.int64(5), "zh") == "周六"
    assert pd.Timestamp("2024-11-25").day_of_week == 0  # a Monday: same numbering as pandas
    with pytest.raises(ValueError, match="index=7"):
        labels.weekday_label(7)


# ---------------------------------------------------------------------------------------- plots


def _machine_has_cjk_font() -> bool:
    try:
        command = ["fc-list", ":lang=zh", "family"]
        out = subprocess.run(command, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


@pytest.fixture(autouse=True)
def _reset():
    yield
    plt.close("all")
    plots.setup("en")


@pytest.fixture
def no_cjk_font(monkeypatch):
    """A machine without any CJK font, whatever this one has."""
    monkeypatch.setattr(plots, "_installed_font_names", lambda: {"DejaVu Sans"})
    monkeypatch.setattr(plots, "_register_system_cjk_fonts", lambda: False)


def test_setup_falls_back_to_english_without_cjk_font(no_cjk_font):
    assert plots.find_cjk_font() is None
    assert plots.setup("zh") == "en"
    assert plots.L("loyal") == "Loyal"
    assert not plots.contains_cjk(plots.L("messages_per_100_members_per_day"))


@pytest.mark.skipif(not _machine_has_cjk_font(), reason="no CJK font installed here")
def test_fonts_missing_from_matplotlibs_cache_are_registered():
    """fc-list sees a CJK font, so find_cjk_font must too (even if matplotlib's cache is older)."""
    assert plots.find_cjk_font() is not None


def test_setup_uses_an_installed_cjk_font(monkeypatch):
    monkeypatch.setattr(plots, "_installed_font_names", lambda: {"DejaVu Sans", "WenQuanYi Zen Hei"})
    assert plots.setup("zh") == "zh"
    assert matplotlib.rcParams["font.sans-serif"][0] == "WenQuanYi Zen Hei"
    assert plots.L("loyal") == "忠诚用户"
    assert plots.setup("en") == "en"
    assert plots.L("loyal") == "Loyal"
    with pytest.raises(ValueError, match="lang"):
        plots.setup("jp")


def _all_text(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def _draw(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    return [str(w.message) for w in caught]


def test_glyph_warning_detection_works():
    """Control: CJK text with the default font does warn, so the next test can fail."""
    plots.setup("en")
    fig, ax = plt.subplots()
    ax.set_title("忠诚用户")
    assert any("missing from font" in m for m in _draw(fig))


def test_all_helpers_render_without_cjk_in_fallback(no_cjk_font):
    assert plots.setup("zh") == "en"
    rng = np.random.default_rng(3)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))

    bars = pd.DataFrame(
        [(t, s, m, m - 0.05, m + 0.04) for t in ["potential", "active", "loyal", "silent"]
         for s, m in [("baseline", 0.3), ("tiered", 0.4)]],
        columns=["tier", "scenario", "mean", "low", "high"],
    )
    ax = plots.bar_with_ci(bars, "tier", "mean", "low", "high", hue="scenario",
                           title_key="retention_d30", y_key="retention_d30", ax=axes[0, 0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Potential", "Active", "Loyal", "Silent"]
    assert ax.get_title() == "30-day retention"

    grid = pd.DataFrame(
        [(d, c, rng.uniform(0.5, 0.9)) for d in range(7) for c in ["knowledge", "flash_deal", "discussion"]],
        columns=["weekday", "content_type", "open_rate"],
    )
    grid["weekday"] = [labels.weekday_label(d, plots.current_lang()) for d in grid["weekday"]]
    plots.heatmap(grid, index="weekday", columns="content_type", values="open_rate",
                  title_key="open_rate", cbar_key="open_rate", ax=axes[0, 1])

    days = pd.DataFrame(
        [(d, t, rng.integers(10, 100)) for d in range(30)
         for t in ["potential", "active", "loyal", "silent"]],
        columns=["day", "tier", "members"],
    )
    plots.stacked_area(days, "day", "members", "tier", title_key="tier_share", y_key="share",
                       normalize=True, ax=axes[1, 0])

    lines = pd.DataFrame({"day": np.arange(30), "mean": np.linspace(5, 9, 30)})
    lines["low"], lines["high"], lines["scenario"] = lines["mean"] - 1, lines["mean"] + 1, "baseline"
    plots.line_with_band(lines, "day", "mean", "low", "high", hue="scenario",
                         title_key="messages_per_100_members_per_day", threshold=8, ax=axes[1, 1])

    messages = _draw(fig)
    assert [m for m in messages if "Glyph" in m or "missing from font" in m] == []
    texts = _all_text(fig)
    assert "Health threshold" in texts and "Share" in texts and "Open rate" in texts
    assert [t for t in texts if plots.contains_cjk(t)] == []


def test_stacked_area_normalizes_and_bad_columns_are_named():
    frame = pd.DataFrame({"day": [0, 0, 1, 1], "tier": ["active", "silent"] * 2, "members": [1, 3, 2, 2]})
    ax = plots.stacked_area(frame, "day", "members", "tier", normalize=True)
    tops = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert np.isclose(tops.max(), 1.0)
    with pytest.raises(ValueError, match=r"lacks columns \['mean', 'low', 'high'\]"):
        plots.bar_with_ci(frame, "tier", "mean", "low", "high")
    with pytest.raises(ValueError, match="index, columns and values"):
        plots.heatmap(frame, index="day")
