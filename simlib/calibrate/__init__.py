"""Calibrate the simulation to a real group: estimate behavioural parameters from an event log.

:func:`estimate` reads the schema tables of a group (a loaded chat export, optionally merged
with an orders file and a WeCom member list via :func:`simlib.io.load_many`, or a simulated
run), fixes the observation window and each member's spell in it
(:mod:`simlib.calibrate.window`), and runs four estimators, each in its own module and each
estimate with a 95% interval (:class:`Estimate`, :mod:`simlib.calibrate.estimates`):

* **chat** (:mod:`simlib.calibrate.chat`, ``members:`` block) — messages per member-day
  (``chat_rate_mean``), the hourly profile, the members' usual hour (``active_hour_mean``) and
  its spread between members (``active_hour_sd``), the spread of engagement
  (``engagement_sigma``); rate and sigma by maximum likelihood of the engine's chat model
  (:mod:`simlib.calibrate.engagement`), the hours with bootstrap intervals over members.
* **exits** (:mod:`simlib.calibrate.exits`, ``members:`` block) — the daily exit hazard,
  separately for silent and non-silent member-days → ``base_exit_hazard`` and
  ``inactive_exit_multiplier`` (silent days stand for inactive ones); removals apart
  (``removal_rate``); the weekly tier transition matrix (:func:`simlib.tiering.transition_matrix`).
* **purchases** (:mod:`simlib.calibrate.purchases`) — purchases per member-day and the mean
  order value (if the log has any).
* **arrivals** (:mod:`simlib.calibrate.arrivals`, ``arrivals:`` block) — joins per day, overall
  and by channel (exact Poisson intervals).

:func:`to_scenario` / :func:`write_scenario` (:mod:`simlib.calibrate.scenario`) turn a
:class:`Calibration` into a scenario YAML (over a base scenario such as ``baseline``) whose
estimable parameters are the estimates, each with a comment giving its interval and the data
window; notebooks can then simulate "my group, with strategy X". Which of each lesson's
parameters a calibration sets, and why the others stay at the defaults, is
:mod:`simlib.calibrate.scope` (:func:`calibration_note`, shown in every lesson's real-data section).

The estimators measure what a chat export shows, which is not quite what the engine's
parameters mean (replies to posts count as chat, silence stands for inactivity).
:func:`refine` (:mod:`simlib.calibrate.replay`) closes that gap by simulation: it replays the
window with the calibrated scenario, reduces each replication to its export
(:func:`export_view`), applies the same estimators and moves the parameters until both agree
(indirect inference). ``simlib calibrate`` (:mod:`simlib.pipeline`) runs the whole path.

What a chat log cannot identify, and therefore stays at the base scenario's values:

* reading behaviour — open rates, ``open_logit_sigma``, open delays, dwell time (a chat
  export does not record reads);
* shares outside the group, ``share_propensity``, ``share_join_prob``, ``referral_audience``
  (invisible);
* tolerances — ``ad_tolerance``, ``bot_tolerance``, ``ad_exit_slope``, automation aversion,
  ``complaint_exit_multiplier``: they need variation in commercial share, automation or
  service quality that one group's history rarely has;
* ``price_sensitivity``, conversion rates by monetization mode, ``purchase_fatigue``, activity
  participation and their purchase probabilities (orders are not linked to posts or activities
  in the log);
* questions and their patience (a question looks like any other message);
* interest dynamics — ``novelty_boost``/``novelty_days``, ``interest_drift_days``,
  ``interest_floor``, ``content_interest_gain``, ``chat_interest_gain``: over one window they are
  confounded with engagement and the chat rate;
* funnel stages of the channels (reach, click and join rates separately; only joins show),
  the channel of members who were already in the group, and all costs.

Caveats, also recorded in :attr:`Calibration.notes`:

* A chat export shows a member only through their messages, joins and exits. Members who
  were already in the group and neither spoke nor left during the window are invisible;
  pass the group size (``members_at_start`` or ``members_at_end``, as shown on the group's
  info page) and they are added back exactly (present all window, no messages). Without it,
  member-days are undercounted and rates and hazards come out too high.
* The estimated chat rate counts every member message in the export, including replies to
  posts and check-ins; in the simulation those come on top of ``chat_rate_mean`` and depend
  on interest. Messages that a simulated log marks with a ``ref_id`` (post replies,
  check-ins, recall campaigns) are left out, so a simulated log yields spontaneous chat only.
* One spell per member: from joining (or the window start) to the first exit.
"""

from simlib.calibrate.calibration import Calibration, estimate
from simlib.calibrate.estimates import CalibrationError, Estimate, daily_hazard, poisson_rate, rate_ratio
from simlib.calibrate.exits import MIN_SPLIT_EXITS
from simlib.calibrate.replay import Refinement, export_view, refine, replay_params
from simlib.calibrate.scenario import (
    CALIBRATED_KEYS,
    CALIBRATED_MARKER,
    GROUP_LIMIT,
    exit_split_estimable,
    to_scenario,
    write_scenario,
)
from simlib.calibrate.scope import (
    Comparison,
    calibration_note,
    is_calibrated,
    lesson_scope,
    observed_vs_simulated,
)

__all__ = [
    "CALIBRATED_KEYS", "CALIBRATED_MARKER", "GROUP_LIMIT", "MIN_SPLIT_EXITS", "Calibration",
    "CalibrationError", "Comparison", "Estimate", "Refinement", "calibration_note", "daily_hazard",
    "estimate", "exit_split_estimable", "export_view", "is_calibrated", "lesson_scope",
    "observed_vs_simulated", "poisson_rate", "rate_ratio", "refine", "replay_params", "to_scenario",
    "write_scenario",
]
