"""Names, categories and descriptions of every feature (the source of docs/features.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    category: str
    formula: str
    sources: str


_S = Feature
SQPE: list[Feature] = [
    _S("distance_m", "race", "race distance in metres", "card.race.distance_m"),
    _S("field_size", "race", "number of declared runners on the card", "card.runners"),
    _S(
        "class_num",
        "race",
        "class as a number, lower = better (G1=-2, G2=-1, G3=0, Listed=0.5, class n=n)",
        "card.race.race_class",
    ),
    _S("going_code", "race", "going on a firm(0)..heavy(6) scale; NaN if unknown", "card.race.going"),
    _S("draw", "draw", "starting stall", "card.runner.draw"),
    _S("draw_rel", "draw", "draw / field_size", "card.runner.draw, card.runners"),
    _S(
        "draw_bias",
        "draw",
        "shrunk win rate of this stall at this course and distance band x field_size "
        "(1 = no bias); prior 1/field_size, weight 20",
        "history: results at course|distance band|draw",
    ),
    _S("weight_carried", "weight", "kg carried", "card.runner.weight_carried"),
    _S("weight_rel", "weight", "weight - mean weight of the field", "card.runner.weight_carried"),
    _S("weight_change", "weight", "weight - weight carried last run", "card, horse's last run"),
    _S("rating", "rating", "official rating", "card.runner.rating"),
    _S("rating_rel", "rating", "rating - mean rating of the field", "card.runner.rating"),
    _S("rating_change", "rating", "rating - rating at last run", "card, horse's last run"),
    _S("age", "profile", "age in years", "card.runner.age"),
    _S("is_female", "profile", "1 for mare/filly, 0 for horse/colt/gelding/rig, NaN if unknown", "card.runner.sex"),
    _S("last_beaten", "form", "(position-1)/(field-1) at last run; 0 = won, 1 = last", "horse's last run"),
    _S("avg_beaten_3", "form", "mean beaten share over the last 3 runs with a known position", "last 3 runs"),
    _S("wins_last6", "form", "wins in the last 6 runs", "last 6 runs"),
    _S(
        "last_mkt_prob",
        "form",
        "market probability at the last run, from that race's official SP",
        "horse's last run (past result's SP)",
    ),
    _S("avg_mkt_prob_3", "form", "mean market probability over the last 3 runs with an SP", "last 3 runs"),
    _S("career_starts", "career", "runs before this race's day", "horse timeline"),
    _S("career_win_rate", "career", "(wins + 0.1*5)/(starts + 5)", "horse timeline"),
    _S("career_place_rate", "career", "(places + 0.3*5)/(runs with position + 5)", "horse timeline"),
    _S(
        "career_excess",
        "career",
        "mean of (won - market probability from the official SP) over past runs",
        "horse timeline, past results' SP",
    ),
    _S("days_since_last", "fitness", "days from the last run's off to this off", "horse's last run"),
    _S("runs_90d", "fitness", "runs in the 90 days before the cutoff", "last 6 runs"),
    _S("first_start", "fitness", "1 if the horse has no earlier run", "horse timeline"),
    _S("course_starts", "suitability", "earlier runs at this course", "horse|course timeline"),
    _S("course_win_rate", "suitability", "(wins + 0.1*5)/(runs + 5) at this course", "horse|course timeline"),
    _S("dist_win_rate", "suitability", "(wins + 0.1*5)/(runs + 5) in this distance band", "horse|band timeline"),
    _S("dist_change", "suitability", "distance - last run's distance (m)", "card, horse's last run"),
    _S(
        "jockey_sr_365", "jockey", "(wins + 0.1*20)/(rides + 20) over the 365 days before the cutoff", "jockey timeline"
    ),
    _S("jockey_rides_365", "jockey", "rides in the 365 days before the cutoff", "jockey timeline"),
    _S("jockey_excess", "jockey", "mean (won - SP probability) over all past rides", "jockey timeline"),
    _S("trainer_sr_365", "trainer", "(wins + 0.1*20)/(runners + 20) over 365 days", "trainer timeline"),
    _S("trainer_sr_30", "trainer", "(wins + 0.1*10)/(runners + 10) over 30 days", "trainer timeline"),
    _S("trainer_excess", "trainer", "mean (won - SP probability) over all past runners", "trainer timeline"),
    # the form book (velo.features.formbook): how the horse ran, not only where it finished
    _S(
        "speed_last",
        "speed figure",
        "last run's figure, s/km faster than its class's par: -(1000 (time - par)/distance - day variant); "
        "par = mean earlier winning time for course|surface|distance|class (3+ races), variant = that "
        "course-day's mean winner deviation from its pars, shrunk by one race",
        "horse's last run (finish_time), PAR and VD timelines",
    ),
    _S("speed_best3", "speed figure", "best figure over the last 3 runs", "last 3 runs"),
    _S("speed_mean3", "speed figure", "mean figure over the last 3 runs with one", "last 3 runs"),
    _S("speed_trend", "speed figure", "speed_last - mean figure of the 2 runs before it", "last 3 runs"),
    _S(
        "lengths_last",
        "beaten lengths",
        "lengths behind the winner at the last run, capped at 30",
        "horse's last run (beaten_lengths)",
    ),
    _S("lengths_mean3", "beaten lengths", "mean capped lengths behind over the last 3 runs with one", "last 3 runs"),
    _S(
        "early_pos_3",
        "pace",
        "mean early position share over the last 3 runs: (position at the first call - 1) / (field - 1); 0 = led",
        "last 3 runs (running_positions)",
    ),
    _S("early_pos_rel", "pace", "early_pos_3 - its mean over today's field", "today's field, last 3 runs"),
    _S(
        "pace_pressure",
        "pace",
        "runners in today's field with early_pos_3 < 0.25 (habitual leaders)",
        "today's field, last 3 runs",
    ),
    _S(
        "body_weight_change",
        "body weight",
        "declared body weight today - at the last run (kg)",
        "card.runner.body_weight, horse's last run",
    ),
    _S(
        "speed_open_last",
        "speed figure",
        "last run's figure against the open par (course|surface|distance, every class), with its own variant",
        "horse's last run (finish_time), PAR and VD timelines",
    ),
    _S("speed_open_best3", "speed figure", "best open-par figure over the last 3 runs", "last 3 runs"),
    _S("speed_open_mean3", "speed figure", "mean open-par figure over the last 3 runs with one", "last 3 runs"),
]
TIE: list[Feature] = [
    _S("class_drop", "intent", "class_num - class_num at last run (positive = easier company)", "card, last run"),
    _S("jockey_upgrade", "intent", "jockey_sr_365 of today's jockey - of last run's jockey (0 if same)",
       "jockey timelines, last run"),
    _S("first_time_gear", "intent", "1 if today's gear is set and was not worn in any of the last 6 runs",
       "card.runner.gear, last 6 runs"),
    _S("layoff_trainer_sr", "intent", "trainer_sr_365 when returning from a layoff of 60+ days, else 0",
       "trainer timeline, last run"),
    _S("trainer_form", "intent", "trainer_sr_30 - trainer_sr_365", "trainer timeline"),
    _S("trainer_jockey_uplift", "intent", "(combo wins + trainer_sr_365*10)/(combo rides + 10) - trainer_sr_365",
       "trainer|jockey timeline"),
    _S("course_switch", "intent", "1 if today's course differs from the last run's", "card, last run"),
]  # fmt: skip

SQPE_FEATURES: list[str] = [f.name for f in SQPE]
TIE_FEATURES: list[str] = [f.name for f in TIE]
assert len(SQPE_FEATURES) == 50 and len({f.category for f in SQPE}) == 15
assert len(TIE_FEATURES) == 7


def markdown_table(features: list[Feature]) -> str:
    rows = ["| # | feature | category | formula | source fields |", "|---|---|---|---|---|"]
    rows += [f"| {i} | `{f.name}` | {f.category} | {f.formula} | {f.sources} |" for i, f in enumerate(features, 1)]
    return "\n".join(rows)
