"""Question-generating tasks and their registry.

Each task yields an unbounded, seeded stream of :class:`~.question.Question` objects. A stream
samples one causal model at a time (its own numpy generator seeded from ``(seed, task, k)``, so
the stream is identical in every process) and asks a few questions about it; the questions of
one model share a ``cluster``. Yes/no answers are balanced by construction: targets come in
shuffled yes/no pairs and each question's phrasing (polarity, queried value, candidate set) is
chosen to produce the target.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, count, islice
from typing import Any, ClassVar

import numpy as np

from pytest_causal_eval.engine.causal import prompts
from pytest_causal_eval.engine.causal.cladder import decided_sign
from pytest_causal_eval.engine.causal.graphs import FAMILIES, Graph
from pytest_causal_eval.engine.causal.sampling import DIFFICULTIES, sample_deterministic, sample_model
from pytest_causal_eval.engine.causal.scm import CausalModel
from pytest_causal_eval.engine.causal.stories import STORIES, Story, Variable
from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import EngineError, UnknownNameError

__all__ = [
    "TASKS",
    "AssociationTask",
    "CausalAttributionTask",
    "Cluster",
    "ConfoundingTask",
    "CounterfactualTask",
    "InterventionTask",
    "Task",
    "create_task",
    "generate",
    "task_names",
]


class _Balancer:
    """Hands out yes/no targets in shuffled pairs; a target is used up only when consumed."""

    __slots__ = ("_pending", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._pending: list[bool] = []

    def peek(self) -> bool:
        if not self._pending:
            self._pending = [True, False] if self._rng.random() < 0.5 else [False, True]
        return self._pending[0]

    def consume(self) -> None:
        self._pending.pop(0)


@dataclass(slots=True)
class _Draft:
    """A question before ids are assigned."""

    text: str
    answer: bool
    query: str
    fields: dict[str, Any]


@dataclass(slots=True)
class _Context:
    family: str
    story: Story
    names: dict[str, Variable]
    model: CausalModel
    rng: np.random.Generator
    extra: Any = None


@dataclass(frozen=True, slots=True)
class Cluster:
    """One sampled causal model and the questions asked about it."""

    id: str
    family: str
    model: CausalModel
    variables: dict[str, str]  # variable name -> what it stands for in the story
    graph_only: bool
    questions: tuple[Question, ...]

    def model_record(self) -> dict[str, Any]:
        """The model as JSON: ``family``, ``variables``, CLadder's ``structure`` and ``params``.

        ``params`` (every ``P(V=1 | parents)``, see :meth:`CausalModel.to_cladder`) is left out
        when the answers depend on the graph alone (the ``confounding`` task).
        """
        exported = self.model.to_cladder()
        record: dict[str, Any] = {
            "cluster": self.id,
            "family": self.family,
            "variables": dict(self.variables),
            "structure": exported["structure"],
        }
        if not self.graph_only:
            record["params"] = exported["params"]
        return record


def _stable_code(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Task(ABC):
    """A named, seeded stream of questions about sampled causal models."""

    name: ClassVar[str]
    rung: ClassVar[int]
    default_families: ClassVar[tuple[str, ...]] = tuple(FAMILIES)

    def __init__(self, difficulty: str = "medium", families: Sequence[str] | None = None) -> None:
        if difficulty not in DIFFICULTIES:
            raise UnknownNameError("difficulty", difficulty, DIFFICULTIES)
        fams = tuple(families) if families else self.default_families
        for fam in fams:
            if fam not in self.default_families:
                raise UnknownNameError(f"graph family for task {self.name!r}", fam, self.default_families)
        self.difficulty = difficulty
        self.families = fams

    def describe(self) -> dict[str, Any]:
        return {"task": self.name, "difficulty": self.difficulty, "families": list(self.families)}

    #: Whether the answers depend on the graph alone (the model's tables are placeholders).
    graph_only: ClassVar[bool] = False

    def questions(self, seed: int = 0) -> Iterator[Question]:
        """The unbounded question stream for ``seed``."""
        for cluster in self.clusters(seed):
            yield from cluster.questions

    def clusters(self, seed: int = 0) -> Iterator[Cluster]:
        """The stream's causal models, each with the questions asked about it (in stream order)."""
        code = _stable_code(self.name)
        balancer = _Balancer(np.random.default_rng([seed, code, 1 << 31]))
        for k in count():
            rng = np.random.default_rng([seed, code, k])
            family = self.families[int(rng.integers(len(self.families)))]
            story = STORIES[int(rng.integers(len(STORIES)))]
            ctx = self._context(family, story, rng)
            cluster = f"{self.name}/{seed}/{k}"
            questions = tuple(
                Question(
                    id=f"{cluster}/{j}",
                    prompt=draft.text,
                    answer="yes" if draft.answer else "no",
                    task=self.name,
                    rung=self.rung,
                    graph=family,
                    cluster=cluster,
                    fields={"query": draft.query, "story": story.name, **draft.fields},
                )
                for j, draft in enumerate(self._drafts(ctx, balancer))
            )
            if questions:
                nouns = {name: var.noun for name, var in ctx.names.items()}
                yield Cluster(cluster, family, ctx.model, nouns, self.graph_only, questions)

    def _context(self, family: str, story: Story, rng: np.random.Generator) -> _Context:
        sampled = sample_model(family, rng, self.difficulty)
        names = prompts.story_variables(family, story)
        given = prompts.describe_tables(sampled.model, names)
        structure = prompts.describe_structure(sampled.model.graph, names)
        return _Context(family, story, names, sampled.model, rng, (structure, given))

    @abstractmethod
    def _drafts(self, ctx: _Context, balancer: _Balancer) -> Iterator[_Draft]:
        """The questions about one sampled model; each should consume one balancer target."""

    # ------------------------------------------------------------------ shared helpers
    @staticmethod
    def _signed(
        ctx: _Context, balancer: _Balancer, value: float, query: str, more: str, less: str, **fields: Any
    ) -> Iterator[_Draft]:
        """A question whose answer is the (two-decimal) sign of ``value`` read with a polarity."""
        sign = decided_sign(value)
        if sign == 0:
            return
        target = balancer.peek()
        polarity = (sign > 0) == target  # "more" phrasing answers yes iff value > 0
        structure, given = ctx.extra
        text = prompts.assemble(structure, given, more if polarity else less)
        balancer.consume()
        yield _Draft(text, target, query, {"value": value, "polarity": polarity, **fields})


def _flip(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else 0


class AssociationTask(Task):
    """Rung 1: conditional and marginal probabilities read from the model's tables."""

    name = "association"
    rung = 1

    def _drafts(self, ctx: _Context, balancer: _Balancer) -> Iterator[_Draft]:
        x, y = ctx.names["X"], ctx.names["Y"]
        t, r = _flip(ctx.rng), _flip(ctx.rng)
        diff = ctx.model.prob({"Y": r}, {"X": t}) - ctx.model.prob({"Y": r}, {"X": 1 - t})
        stem = f"Among cases where {x.clause(t)}, is it"
        tail = f"likely that {y.clause(r)} than among cases where {x.clause(1 - t)}?"
        yield from self._signed(
            ctx,
            balancer,
            diff,
            "correlation",
            f"{stem} more {tail}",
            f"{stem} less {tail}",
            treated=t,
            result=r,
        )
        p = ctx.model.marginal("Y")
        yield from self._signed(
            ctx,
            balancer,
            p - 0.5,
            "marginal",
            f"Overall, is it more likely than not that {y.on}?",
            f"Overall, is it less likely than not that {y.on}?",
            probability=p,
        )


class InterventionTask(Task):
    """Rung 2: average treatment effects and interventional probabilities."""

    name = "intervention"
    rung = 2

    def _drafts(self, ctx: _Context, balancer: _Balancer) -> Iterator[_Draft]:
        x, y = ctx.names["X"], ctx.names["Y"]
        t, r = _flip(ctx.rng), _flip(ctx.rng)
        table = ctx.model.do_table("Y", ["X"])
        effect = (1 if t else -1) * (1 if r else -1) * float(table[1] - table[0])
        stem = f"If we intervene to make sure {x.clause(t)}, rather than {x.clause(1 - t)}, does that"
        yield from self._signed(
            ctx,
            balancer,
            effect,
            "ate",
            f"{stem} increase the chance that {y.clause(r)}?",
            f"{stem} decrease the chance that {y.clause(r)}?",
            treated=t,
            result=r,
        )
        a = _flip(ctx.rng)
        p = float(table[a])
        yield from self._signed(
            ctx,
            balancer,
            p - 0.5,
            "do_probability",
            f"If we intervene to make sure {x.clause(a)}, is it more likely than not that {y.on}?",
            f"If we intervene to make sure {x.clause(a)}, is it less likely than not that {y.on}?",
            action=a,
            probability=p,
        )


class CausalAttributionTask(Task):
    """Rung 3: effect of treatment on the treated, natural direct and indirect effects."""

    name = "causal_attribution"
    rung = 3

    def _drafts(self, ctx: _Context, balancer: _Balancer) -> Iterator[_Draft]:
        m = ctx.model
        x, y = ctx.names["X"], ctx.names["Y"]
        t = _flip(ctx.rng)
        # E[Y_{1-t} - Y_t | X = t] for Y = 1
        ett = m.ett("X", "Y", t)
        effect = -ett if t else ett
        stem = f"For cases where {x.clause(t)}, would it have been"
        tail = f"likely that {y.on} if, instead, {x.clause(1 - t)}?"
        yield from self._signed(
            ctx, balancer, effect, "ett", f"{stem} more {tail}", f"{stem} less {tail}", treated=t
        )
        mediators = m.graph.mediators("X", "Y")
        if not mediators:
            return
        # Pearl's natural effects, as the wording asks (exact in every family, the arrowhead too)
        nde, nie = m.nde("X", "Y"), m.nie("X", "Y")
        via = prompts.conjunction([ctx.names[v].noun for v in mediators])
        first = [self._direct, self._indirect]
        if ctx.rng.random() < 0.5:
            first.reverse()
        for make in first:
            yield from make(ctx, balancer, x, y, via, nde, nie)

    def _direct(
        self, ctx: _Context, balancer: _Balancer, x: Variable, y: Variable, via: str, nde: float, nie: float
    ) -> Iterator[_Draft]:
        stem = f"Leaving aside any influence that passes through {via}, does {x.on}"
        yield from self._signed(
            ctx,
            balancer,
            nde,
            "nde",
            f"{stem} increase the chance that {y.on}?",
            f"{stem} decrease the chance that {y.on}?",
        )

    def _indirect(
        self, ctx: _Context, balancer: _Balancer, x: Variable, y: Variable, via: str, nde: float, nie: float
    ) -> Iterator[_Draft]:
        stem = f"Through its influence on {via} alone, does {x.on}"
        yield from self._signed(
            ctx,
            balancer,
            nie,
            "nie",
            f"{stem} increase the chance that {y.on}?",
            f"{stem} decrease the chance that {y.on}?",
        )


class CounterfactualTask(Task):
    """Rung 3: counterfactuals in models with deterministic and/or/not mechanisms."""

    name = "counterfactual"
    rung = 3
    # families where observing the roots other than X pins the world down completely
    default_families = tuple(FAMILIES)

    def _context(self, family: str, story: Story, rng: np.random.Generator) -> _Context:
        model, mechanisms = sample_deterministic(family, rng)
        names = prompts.story_variables(family, story)
        structure = prompts.describe_structure(model.graph, names)
        rules = prompts.describe_mechanisms(mechanisms, names)
        return _Context(family, story, names, model, rng, (structure, rules))

    def _drafts(self, ctx: _Context, balancer: _Balancer) -> Iterator[_Draft]:
        graph: Graph = ctx.model.graph
        x, y = ctx.names["X"], ctx.names["Y"]
        roots = [n for n, pas in zip(graph.names, graph.parents, strict=True) if not pas and n != "X"]
        evidence = {n: _flip(ctx.rng) for n in roots}
        for action in (0, 1) if ctx.rng.random() < 0.5 else (1, 0):
            if graph.parent_names("X"):
                factual_x = None  # X is determined by its parents, which we observe
            else:
                factual_x = 1 - action
                evidence = {**evidence, "X": factual_x}
            if factual_x is None and ctx.model.prob({"X": 1 - action}, evidence) == 0.0:
                continue  # the factual world must differ from the counterfactual one
            outcome = ctx.model.counterfactual("Y", 1, {"X": action}, {**evidence, "X": 1 - action})
            actual = 1 if outcome > 0.5 else 0
            target = balancer.peek()
            asked = actual if target else 1 - actual
            seen = [ctx.names[n].clause(v) for n, v in evidence.items() if n != "X"]
            seen.append(x.clause(1 - action))
            structure, rules = ctx.extra
            given = f"{rules} We observe that {prompts.conjunction(seen)}."
            question = f"Would it be the case that {y.clause(asked)} if, instead, {x.clause(action)}?"
            balancer.consume()
            yield _Draft(
                prompts.assemble(structure, given, question),
                target,
                "counterfactual",
                {"action": action, "asked": asked, "evidence": {**evidence, "X": 1 - action}},
            )


class ConfoundingTask(Task):
    """Rung 2: which adjustment sets identify the effect of X on Y (the backdoor criterion)."""

    name = "confounding"
    rung = 2
    graph_only = True
    # families with both a valid and an invalid candidate set among the observed covariates
    default_families = (
        "chain",
        "collision",
        "confounding",
        "mediation",
        "arrowhead",
        "diamond",
        "diamondcut",
    )

    def _context(self, family: str, story: Story, rng: np.random.Generator) -> _Context:
        graph = _family_graph(family)
        names = prompts.story_variables(family, story)
        structure = prompts.describe_structure(graph, names)
        ctx = _Context(family, story, names, _placeholder_model(family), rng, (structure, ""))
        return ctx

    def _drafts(self, ctx: _Context, balancer: _Balancer) -> Iterator[_Draft]:
        valid, invalid = _adjustment_sets(ctx.family)
        x, y = ctx.names["X"], ctx.names["Y"]
        for _ in range(2):
            target = balancer.peek()
            pool = valid if target else invalid
            chosen = pool[int(ctx.rng.integers(len(pool)))]
            if chosen:
                what = f"{prompts.conjunction([ctx.names[v].noun for v in chosen])} (and nothing else)"
            else:
                what = "no other variable"
            question = (
                f"To estimate the causal effect of {x.noun} on {y.noun} from observational data, "
                f"is it valid to adjust for {what}?"
            )
            structure, _ = ctx.extra
            balancer.consume()
            yield _Draft(
                prompts.assemble(structure, "", question), target, "backdoor", {"adjust": list(chosen)}
            )


_SET_CACHE: dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]] = {}
_GRAPH_CACHE: dict[str, Graph] = {}
_MODEL_CACHE: dict[str, CausalModel] = {}


def _family_graph(family: str) -> Graph:
    if family not in _GRAPH_CACHE:
        _GRAPH_CACHE[family] = Graph.from_structure(FAMILIES[family])
    return _GRAPH_CACHE[family]


def _placeholder_model(family: str) -> CausalModel:
    """A fixed model of the family; graph-only tasks need its structure, not its numbers."""
    if family not in _MODEL_CACHE:
        graph = _family_graph(family)
        _MODEL_CACHE[family] = CausalModel(graph, [np.full((2,) * len(p), 0.5) for p in graph.parents])
    return _MODEL_CACHE[family]


def _adjustment_sets(family: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    if family not in _SET_CACHE:
        graph = _family_graph(family)
        covariates = [n for n in graph.names if n not in ("X", "Y")]
        valid: list[tuple[str, ...]] = []
        invalid: list[tuple[str, ...]] = []
        for size in range(len(covariates) + 1):
            for subset in combinations(covariates, size):
                (valid if graph.is_backdoor_set("X", "Y", subset) else invalid).append(subset)
        if not valid or not invalid:
            raise EngineError(
                f"family {family!r} has no {'valid' if not valid else 'invalid'} adjustment set"
            )
        _SET_CACHE[family] = (valid, invalid)
    return _SET_CACHE[family]


TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (AssociationTask, CausalAttributionTask, InterventionTask, CounterfactualTask, ConfoundingTask)
}


def task_names() -> list[str]:
    return sorted(TASKS)


def create_task(name: str, **options: Any) -> Task:
    """A task by registry name; unknown names raise an error listing the valid ones."""
    try:
        cls = TASKS[name]
    except KeyError:
        raise UnknownNameError("task", name, TASKS) from None
    return cls(**options)


def generate(task: str | Task, n: int, seed: int = 0, **options: Any) -> list[Question]:
    """The first ``n`` questions of a task's stream."""
    t = create_task(task, **options) if isinstance(task, str) else task
    return list(islice(t.questions(seed), n))
