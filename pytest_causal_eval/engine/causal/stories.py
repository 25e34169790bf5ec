"""Natural-language stories: what each variable of a causal graph means.

A story names one variable per role; each variable has a short noun phrase and two clauses,
the one that holds when it is 1 and the one that holds when it is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STORIES", "Story", "Variable"]


@dataclass(frozen=True, slots=True)
class Variable:
    noun: str
    on: str
    off: str

    def clause(self, value: int) -> str:
        return self.on if value else self.off


@dataclass(frozen=True, slots=True)
class Story:
    name: str
    roles: dict[str, Variable]

    def variable(self, role: str) -> Variable:
        return self.roles[role]


def _v(noun: str, on: str, off: str) -> Variable:
    return Variable(noun, on, off)


STORIES: tuple[Story, ...] = (
    Story(
        "orchard",
        {
            "treatment": _v("irrigation", "the orchard is irrigated", "the orchard is not irrigated"),
            "outcome": _v("harvest", "the harvest is large", "the harvest is small"),
            "confounder": _v("rainfall", "the region is rainy", "the region is dry"),
            "mediator": _v("soil moisture", "the soil is moist", "the soil is dry"),
            "mediator2": _v("root growth", "the roots grow deep", "the roots stay shallow"),
            "other_cause": _v("pollinators", "bees are plentiful", "bees are scarce"),
            "instrument": _v("water subsidy", "water is subsidised", "water is not subsidised"),
            "collider": _v(
                "market listing", "the orchard is listed at the market", "the orchard is unlisted"
            ),
        },
    ),
    Story(
        "clinic",
        {
            "treatment": _v("drug", "the patient takes the drug", "the patient skips the drug"),
            "outcome": _v("recovery", "the patient recovers", "the patient does not recover"),
            "confounder": _v("age", "the patient is elderly", "the patient is young"),
            "mediator": _v("blood pressure", "blood pressure falls", "blood pressure stays high"),
            "mediator2": _v("inflammation", "inflammation subsides", "inflammation persists"),
            "other_cause": _v("exercise", "the patient exercises", "the patient is sedentary"),
            "instrument": _v("insurance", "the drug is insured", "the drug is uninsured"),
            "collider": _v("follow-up visit", "the patient returns for a visit", "the patient never returns"),
        },
    ),
    Story(
        "startup",
        {
            "treatment": _v("funding", "the startup raises funding", "the startup stays unfunded"),
            "outcome": _v("survival", "the startup survives five years", "the startup folds"),
            "confounder": _v("founder experience", "the founders are veterans", "the founders are novices"),
            "mediator": _v("hiring", "the startup hires engineers", "the startup does not hire"),
            "mediator2": _v("marketing", "the startup advertises", "the startup does not advertise"),
            "other_cause": _v("economy", "the economy booms", "the economy slumps"),
            "instrument": _v("investor proximity", "investors are nearby", "investors are far away"),
            "collider": _v("press coverage", "the press covers the startup", "the press ignores the startup"),
        },
    ),
    Story(
        "school",
        {
            "treatment": _v("tutoring", "the student gets tutoring", "the student gets no tutoring"),
            "outcome": _v("exam result", "the student passes the exam", "the student fails the exam"),
            "confounder": _v("family income", "the family is wealthy", "the family is poor"),
            "mediator": _v("study time", "the student studies daily", "the student rarely studies"),
            "mediator2": _v("confidence", "the student feels confident", "the student feels anxious"),
            "other_cause": _v("sleep", "the student sleeps well", "the student sleeps badly"),
            "instrument": _v(
                "lottery", "the student wins a tutoring lottery", "the student loses the lottery"
            ),
            "collider": _v("award", "the student receives an award", "the student receives no award"),
        },
    ),
    Story(
        "factory",
        {
            "treatment": _v("maintenance", "the machine is serviced", "the machine is not serviced"),
            "outcome": _v("output", "the line meets its quota", "the line misses its quota"),
            "confounder": _v("machine age", "the machine is old", "the machine is new"),
            "mediator": _v("breakdowns", "the machine runs smoothly", "the machine keeps breaking"),
            "mediator2": _v("calibration", "the machine is calibrated", "the machine is miscalibrated"),
            "other_cause": _v("staffing", "the shift is fully staffed", "the shift is short-staffed"),
            "instrument": _v("service contract", "a service contract exists", "no service contract exists"),
            "collider": _v("audit", "the line is audited", "the line is not audited"),
        },
    ),
    Story(
        "city",
        {
            "treatment": _v("bike lanes", "the city builds bike lanes", "the city builds no bike lanes"),
            "outcome": _v("air quality", "the air is clean", "the air is polluted"),
            "confounder": _v("city wealth", "the city is rich", "the city is poor"),
            "mediator": _v("car traffic", "car traffic drops", "car traffic stays heavy"),
            "mediator2": _v("cycling", "many residents cycle", "few residents cycle"),
            "other_cause": _v("wind", "the wind is strong", "the air is still"),
            "instrument": _v("federal grant", "the city wins a grant", "the city wins no grant"),
            "collider": _v("news report", "the city makes the news", "the city stays out of the news"),
        },
    ),
    Story(
        "kitchen",
        {
            "treatment": _v("oven heat", "the oven is hot", "the oven is cool"),
            "outcome": _v("bread", "the bread rises", "the bread stays flat"),
            "confounder": _v("baker skill", "the baker is skilled", "the baker is a beginner"),
            "mediator": _v("dough temperature", "the dough is warm", "the dough is cold"),
            "mediator2": _v("yeast activity", "the yeast is active", "the yeast is dormant"),
            "other_cause": _v("flour quality", "the flour is fresh", "the flour is stale"),
            "instrument": _v("power supply", "the power is steady", "the power flickers"),
            "collider": _v("prize", "the loaf wins a prize", "the loaf wins nothing"),
        },
    ),
    Story(
        "coast",
        {
            "treatment": _v("seawall", "a seawall is built", "no seawall is built"),
            "outcome": _v("flooding", "the town stays dry", "the town floods"),
            "confounder": _v("town budget", "the town has a large budget", "the town has a small budget"),
            "mediator": _v("wave height", "waves are reduced", "waves stay high"),
            "mediator2": _v("drainage", "drains are cleared", "drains are blocked"),
            "other_cause": _v("storm", "no storm arrives", "a storm arrives"),
            "instrument": _v("engineering firm", "a local firm is available", "no local firm is available"),
            "collider": _v("insurance claim", "claims are filed", "no claims are filed"),
        },
    ),
)
