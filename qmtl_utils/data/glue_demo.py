"""The seeded offline GLUE demo of the ``demo``/``smoke`` profiles (Appendix A.1's nine tasks with
their label spaces, in real English from a template grammar): :func:`make_glue_demo`.

It returns the same ``{task: GlueTask}`` as the readers of real GLUE in :mod:`qmtl_utils.data.glue`;
the data-prep stage writes it in the original distribution's layout and reads it back through
:func:`~qmtl_utils.data.glue.load_glue_dir`, like real data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from qmtl_utils.data.glue import _SCHEMAS, GLUE_TASKS, GlueTask, _check_tasks, _frame

_PEOPLE = {
    "teacher": "person",
    "doctor": "person",
    "farmer": "person",
    "student": "person",
    "painter": "person",
    "nurse": "person",
    "pilot": "person",
    "baker": "person",
    "lawyer": "person",
    "engineer": "person",
}
_THINGS = {
    "car": "vehicle",
    "truck": "vehicle",
    "bicycle": "vehicle",
    "boat": "vehicle",
    "guitar": "instrument",
    "piano": "instrument",
    "violin": "instrument",
    "drum": "instrument",
    "apple": "fruit",
    "banana": "fruit",
    "orange": "fruit",
    "pear": "fruit",
    "hammer": "tool",
    "shovel": "tool",
    "drill": "tool",
    "wrench": "tool",
    "rose": "flower",
    "tulip": "flower",
    "lily": "flower",
    "daisy": "flower",
}
# Synonym groups of (past, base, participle), with the object categories they take (None: all).
_VERBS: list[tuple[list[tuple[str, str, str]], set[str] | None]] = [
    ([("bought", "buy", "bought"), ("purchased", "purchase", "purchased")], None),
    ([("found", "find", "found"), ("discovered", "discover", "discovered")], None),
    ([("fixed", "fix", "fixed"), ("repaired", "repair", "repaired")], {"vehicle", "instrument", "tool"}),
    ([("chose", "choose", "chosen"), ("selected", "select", "selected"), ("picked", "pick", "picked")], None),
    ([("saw", "see", "seen"), ("noticed", "notice", "noticed"), ("spotted", "spot", "spotted")], None),
    ([("cleaned", "clean", "cleaned"), ("washed", "wash", "washed")], None),
    ([("examined", "examine", "examined"), ("inspected", "inspect", "inspected")], None),
    ([("lost", "lose", "lost"), ("misplaced", "misplace", "misplaced")], {"instrument", "tool", "fruit"}),
    ([("wanted", "want", "wanted"), ("desired", "desire", "desired")], None),
]
_FREE_VERBS = [g for g, (_, cats) in enumerate(_VERBS) if cats is None]  # groups taking any object
_MODIFIERS = ("red", "blue", "green", "old", "new", "small", "large", "heavy", "cheap", "shiny")
_PLACES = (
    "in the park",
    "at the market",
    "near the river",
    "in the garage",
    "at the station",
    "in the village",
    "behind the school",
    "at the harbour",
)
_TIMES = ("yesterday", "last week", "this morning", "on monday", "in the evening", "last summer")
_REASONS = ("for a friend", "because it was cheap", "for the festival", "as a birthday present")
# SST-2: synonym pairs by polarity; the review's topic; neutral intensifiers.
_POSITIVE = [
    ("wonderful", "marvelous"),
    ("brilliant", "superb"),
    ("charming", "delightful"),
    ("moving", "touching"),
    ("funny", "hilarious"),
    ("fresh", "original"),
    ("gripping", "thrilling"),
]
_NEGATIVE = [
    ("terrible", "awful"),
    ("boring", "tedious"),
    ("dull", "bland"),
    ("clumsy", "awkward"),
    ("predictable", "formulaic"),
    ("painful", "unbearable"),
    ("confusing", "muddled"),
]
_TOPICS = (
    "the movie",
    "the film",
    "the plot",
    "the acting",
    "the script",
    "the soundtrack",
    "the ending",
    "this comedy",
    "the director's new picture",
    "the dialogue",
)
_INTENSIFIERS = ("", "", "truly ", "rather ", "remarkably ", "quite ")
_NEGATORS = ("not ", "never ", "hardly ", "far from ")
# WNLI: Winograd-style schemas; the clause after "because she" decides who "she" is (0: a, 1: b).
_SCHEMAS_WNLI = [
    ("the {a} gave the {b} a {thing}", [("was generous", 0), ("needed one", 1)]),
    ("the {a} thanked the {b}", [("had received help", 0), ("had been helpful", 1)]),
    ("the {a} could not see the {b}", [("was too short", 0), ("was hiding behind a wall", 1)]),
    ("the {a} paid the {b}", [("owed money", 0), ("had finished the work", 1)]),
    ("the {a} called the {b}", [("needed advice", 0), ("was an expert", 1)]),
    ("the {a} beat the {b} at chess", [("was a strong player", 0), ("was a weak player", 1)]),
]


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


@dataclass
class _Event:
    """A simple event: subject, verb (group, member), object, optional modifier, place and time."""

    subj: str
    group: int
    verb: int
    obj: str
    mod: str | None = None
    place: str | None = None
    time: str | None = None

    def verb_form(self, which: int) -> str:
        return _VERBS[self.group][0][self.verb][which]

    def np_obj(self, article: str = "a") -> str:
        noun = f"{self.mod} {self.obj}" if self.mod else self.obj
        return _a(noun) if article == "a" else f"the {noun}"

    def tail(self) -> str:
        return "".join(f" {x}" for x in (self.place, self.time) if x)

    def active(self, subj: str | None = None, obj: str | None = None) -> str:
        return f"{subj or 'the ' + self.subj} {self.verb_form(0)} {obj or self.np_obj()}{self.tail()}"

    def passive(self) -> str:
        return f"{self.np_obj()} was {self.verb_form(2)} by the {self.subj}{self.tail()}"

    def negated(self, subj: str | None = None) -> str:
        return f"{subj or 'the ' + self.subj} did not {self.verb_form(1)} {self.np_obj()}{self.tail()}"


def _event(rng: random.Random, mod=0.4, place=0.5, time=0.4) -> _Event:
    group = rng.randrange(len(_VERBS))
    cats = _VERBS[group][1]
    obj = rng.choice([t for t, c in _THINGS.items() if cats is None or c in cats])
    return _Event(
        rng.choice(list(_PEOPLE)),
        group,
        rng.randrange(len(_VERBS[group][0])),
        obj,
        rng.choice(_MODIFIERS) if rng.random() < mod else None,
        rng.choice(_PLACES) if rng.random() < place else None,
        rng.choice(_TIMES) if rng.random() < time else None,
    )


def _synonym(rng: random.Random, e: _Event) -> _Event:
    """The same event with a (possibly) different verb of the same synonym group."""
    return _Event(e.subj, e.group, rng.randrange(len(_VERBS[e.group][0])), e.obj, e.mod, e.place, e.time)


def _other(rng: random.Random, pool: Sequence, current):
    return rng.choice([x for x in pool if x != current])


def _change(rng: random.Random, e: _Event, slot: str) -> _Event:
    """The event with one slot (subj, verb, obj, place) changed to a different meaning."""
    e = _Event(**vars(e))
    if slot == "subj":
        e.subj = _other(rng, list(_PEOPLE), e.subj)
    elif slot == "verb":
        e.group = _other(rng, _FREE_VERBS, e.group)
        e.verb = rng.randrange(len(_VERBS[e.group][0]))
    elif slot == "obj":
        cats = _VERBS[e.group][1]
        e.obj = _other(rng, [t for t, c in _THINGS.items() if cats is None or c in cats], e.obj)
    else:
        e.place = _other(rng, _PLACES, e.place)
    return e


def _paraphrase(rng: random.Random, e: _Event) -> str:
    """Same meaning, different words: verb synonym, passive voice or a fronted time adverb."""
    e = _synonym(rng, e)
    form = rng.randrange(3)
    if form == 1:
        return e.passive()
    if form == 2 and e.time:
        return f"{e.time}, {_Event(**{**vars(e), 'time': None}).active()}"
    return e.active()


def _sentence(text: str, end: str = ".") -> str:
    return text[0].upper() + text[1:] + end


def _demo_cola(rng: random.Random) -> tuple[str, None, int]:
    e = _event(rng)
    good = rng.choice([e.active, e.passive, e.negated])()
    if rng.random() < 0.7:
        return _sentence(good), None, 1
    words = e.active().split()
    corruption = rng.randrange(4)
    if corruption == 0:  # scrambled word order
        scrambled = words[:]
        while scrambled == words:
            rng.shuffle(scrambled)
        bad = " ".join(scrambled)
    elif corruption == 1:  # past tense after "did not"
        bad = f"the {e.subj} did not {e.verb_form(0)} {e.np_obj()}{e.tail()}"
    elif corruption == 2:  # agreement: singular subject with "were"
        bad = f"{e.np_obj()} were {e.verb_form(2)} by the {e.subj}{e.tail()}"
    else:  # a determiner without its noun
        bad = f"the {e.subj} {e.verb_form(0)} a{e.tail()}"
    return _sentence(bad), None, 0


def _polar(rng: random.Random, positive: bool) -> str:
    return rng.choice(rng.choice(_POSITIVE if positive else _NEGATIVE))


def _demo_sst2(rng: random.Random) -> tuple[str, None, int]:
    positive = rng.random() < 0.55
    topic = rng.choice(_TOPICS)
    if rng.random() < 0.15:  # contrast: the clause after "but" decides
        text = f"{topic} starts {_polar(rng, not positive)} but ends {_polar(rng, positive)}"
        return text, None, int(positive)
    negated = rng.random() < 0.3
    word = _polar(rng, positive != negated)
    neg = rng.choice(_NEGATORS) if negated else ""
    template = rng.randrange(3)
    if template == 0:
        text = f"{topic} is {neg}{rng.choice(_INTENSIFIERS)}{word}"
    elif template == 1:
        text = f"{topic} is {neg}{word} and {_polar(rng, positive != negated)}"
    else:
        text = f"i {'did not find' if negated else 'found'} {topic} {rng.choice(_INTENSIFIERS)}{word}"
    return text, None, int(positive)


def _demo_mrpc(rng: random.Random) -> tuple[str, str, int]:
    e = _event(rng, place=0.7, time=0.6)
    if rng.random() < 0.68:
        return _sentence(e.active()), _sentence(_paraphrase(rng, e)), 1
    slot = rng.choice(["subj", "verb", "obj"] + (["place"] if e.place else []))
    return _sentence(e.active()), _sentence(_paraphrase(rng, _change(rng, e, slot))), 0


_QQP_FAMILIES = [
    ("how can i {v} {o}?", "what is the best way to {v} {o}?", "how do i {v} {o}?"),
    ("where can i {v} {o}?", "where is the best place to {v} {o}?"),
    ("why would anyone {v} {o}?", "what is the reason to {v} {o}?"),
]


def _demo_qqp(rng: random.Random) -> tuple[str, str, int]:
    e = _event(rng)

    def ask(family: int, ev: _Event) -> str:
        template = rng.choice(_QQP_FAMILIES[family])
        return _sentence(template.format(v=_synonym(rng, ev).verb_form(1), o=ev.np_obj()), "")

    family = rng.randrange(len(_QQP_FAMILIES))
    if rng.random() < 0.37:
        return ask(family, e), ask(family, e), 1
    if rng.random() < 0.4:
        return ask(family, e), ask(_other(rng, range(len(_QQP_FAMILIES)), family), e), 0
    return ask(family, e), ask(family, _change(rng, e, rng.choice(["verb", "obj"]))), 0


def _demo_stsb(rng: random.Random) -> tuple[str, str, float]:
    e = _event(rng, place=1.0, time=0.0)
    slots = ["subj", "verb", "obj", "place"]
    k = rng.randrange(5)
    other = e
    for slot in rng.sample(slots, k):
        other = _change(rng, other, slot)
    score = min(5.0, max(0.0, 5.0 * (4 - k) / 4 + rng.gauss(0.0, 0.3)))
    # the 4th element is the noiseless score (4 - k)/4: what a model of the meaning predicts at best
    return _sentence(e.active()), _sentence(_paraphrase(rng, other)), round(score / 5.0, 4), (4 - k) / 4


@dataclass(frozen=True)
class _Claim:
    """An NLI statement about one verb group: ``kind`` "some" (S V O), "not" (the S did not V O) or
    "none" (nobody V O). ``subj`` is a person or "person" (anyone); ``obj`` a thing or its category."""

    kind: str
    subj: str
    group: int
    obj: str
    mod: str | None = None
    adjuncts: tuple[str, ...] = ()

    def render(self, rng: random.Random) -> str:
        past, base, participle = rng.choice(_VERBS[self.group][0])
        obj = _a(f"{self.mod} {self.obj}" if self.mod else self.obj)
        tail = "".join(f" {a}" for a in self.adjuncts)
        if self.kind == "none":
            return f"{rng.choice(['nobody', 'no one'])} {past} {obj}{tail}"
        subj = rng.choice(["a person", "someone"]) if self.subj == "person" else f"the {self.subj}"
        if self.kind == "not":
            return f"{subj} did not {base} {obj}{tail}"
        if rng.random() < 0.3:
            return f"{obj} was {participle} by {subj}{tail}"
        return f"{subj} {past} {obj}{tail}"


def _covers(general: str, specific: str) -> bool:
    """``general`` is ``specific`` or its hypernym (person > teacher, vehicle > car)."""
    return general == specific or _THINGS.get(specific) == general or (general == "person" and specific in _PEOPLE)


def _nli_label(p: _Claim, h: _Claim) -> int:
    """0 entailment, 1 neutral, 2 contradiction, by monotonicity: an affirmative premise licenses
    hypernyms and dropped adjuncts; a negated one licenses hyponyms and added adjuncts."""
    if h.group != p.group:
        return 1
    if p.kind == "some":
        if not set(h.adjuncts) <= set(p.adjuncts) or h.mod not in (None, p.mod):
            return 1
        if not _covers(h.obj, p.obj):
            return 1
        if h.kind == "some":
            return 0 if _covers(h.subj, p.subj) else 1
        return 2 if h.kind == "none" or h.subj == p.subj else 1
    if not _covers(p.obj, h.obj) or (p.kind == "not" and (h.kind == "none" or h.subj != p.subj)):
        return 1
    return 2 if h.kind == "some" else 0


def _nli_pair(rng: random.Random) -> tuple[_Claim, _Claim]:
    """A random premise and a hypothesis that shares its event with varied subject, object
    (same, hypernym or sibling), modifier, adjuncts, polarity and (rarely) verb."""
    e = _event(rng, mod=0.3, place=0.4, time=0.3)
    kind = rng.choices(["some", "not", "none"], [0.6, 0.25, 0.15])[0]
    affirmative = kind == "some"
    p = _Claim(
        kind,
        "person" if affirmative and rng.random() < 0.25 else e.subj,
        e.group,
        _THINGS[e.obj] if rng.random() < 0.3 else e.obj,
        e.mod if affirmative else None,
        tuple(x for x in (e.place, e.time) if x) if affirmative else (),
    )
    h_kind = rng.choices(["some", "not", "none"], [0.5, 0.3, 0.2])[0]
    h_subj = rng.choices([e.subj, "person", _other(rng, list(_PEOPLE), e.subj)], [0.6, 0.25, 0.15])[0]
    siblings = [t for t, c in _THINGS.items() if c == _THINGS[e.obj] and t != e.obj]
    adjuncts = tuple(a for a in p.adjuncts if rng.random() < 0.5)
    if rng.random() < 0.2:
        adjuncts += (rng.choice(_REASONS + _TIMES),)
    h = _Claim(
        h_kind,
        e.subj if h_kind == "not" and h_subj == "person" else h_subj,
        e.group if rng.random() < 0.9 else _other(rng, _FREE_VERBS, e.group),
        rng.choices([e.obj, _THINGS[e.obj], rng.choice(siblings)], [0.45, 0.35, 0.2])[0],
        rng.choices([None, p.mod, rng.choice(_MODIFIERS)], [0.5, 0.3, 0.2])[0],
        adjuncts,
    )
    return p, h


def _nli_example(rng: random.Random, want: Callable[[int], bool]) -> tuple[str, str, int]:
    """Premise, hypothesis and MNLI label of the first sampled pair whose label satisfies ``want``."""
    while True:
        p, h = _nli_pair(rng)
        label = _nli_label(p, h)
        if want(label):
            return _sentence(p.render(rng)), _sentence(h.render(rng)), label


def _demo_mnli(rng: random.Random) -> tuple[str, str, int]:
    target = rng.randrange(3)
    return _nli_example(rng, lambda label: label == target)


def _demo_qnli(rng: random.Random) -> tuple[str, str, int]:
    e = _event(rng, place=0.6, time=0.6)
    kind = rng.choice(["who", "what", "where", "when"])
    question = {
        "who": f"who {e.verb_form(0)} {e.np_obj('the')}?",
        "what": f"what did the {e.subj} {e.verb_form(1)}?",
        "where": f"where did the {e.subj} {e.verb_form(1)} {e.np_obj('the')}?",
        "when": f"when did the {e.subj} {e.verb_form(1)} {e.np_obj('the')}?",
    }[kind]
    s = _Event(**vars(e))
    if rng.random() < 0.5:  # 0: the same event, stating the asked slot
        label = 0
        if kind == "where":
            s.place = s.place or rng.choice(_PLACES)
        if kind == "when":
            s.time = s.time or rng.choice(_TIMES)
    elif kind in ("where", "when") and rng.random() < 0.5:  # 1: the same event without the asked slot
        label = 1
        if kind == "where":
            s.place, s.time = None, s.time or rng.choice(_TIMES)
        else:
            s.place, s.time = s.place or rng.choice(_PLACES), None
    else:  # 1: another event
        label = 1
        s = _change(rng, s, "obj" if kind == "who" else "subj")
    return _sentence(question, ""), _sentence(_paraphrase(rng, s)), label


def _demo_rte(rng: random.Random) -> tuple[str, str, int]:
    entailed = rng.random() < 0.5
    premise, hypothesis, _ = _nli_example(rng, lambda label: (label == 0) == entailed)
    context = _sentence(_event(rng).active())
    premise = f"{premise} {context}" if rng.random() < 0.5 else f"{context} {premise}"
    return premise, hypothesis, 0 if entailed else 1


def _demo_wnli(rng: random.Random) -> tuple[str, str, int]:
    main, clauses = rng.choice(_SCHEMAS_WNLI)
    a, b = rng.sample(list(_PEOPLE), 2)
    clause, referent = rng.choice(clauses)
    sentence = main.format(a=a, b=b, thing=rng.choice(list(_THINGS))) + f" because she {clause}"
    named = rng.randrange(2)
    hypothesis = f"the {(a, b)[named]} {clause}"
    return _sentence(sentence), _sentence(hypothesis), int(named == referent)


_DEMO: dict[str, Callable[[random.Random], tuple]] = {
    "cola": _demo_cola,
    "sst2": _demo_sst2,
    "mrpc": _demo_mrpc,
    "stsb": _demo_stsb,
    "qqp": _demo_qqp,
    "mnli": _demo_mnli,
    "qnli": _demo_qnli,
    "rte": _demo_rte,
    "wnli": _demo_wnli,
}


def make_glue_demo(
    n_per_task: int = 1000, seed: int = 1234, val_fraction: float = 0.2, tasks: Sequence[str] = GLUE_TASKS
) -> dict[str, GlueTask]:
    """The offline GLUE demo: ``n_per_task`` distinct examples per task (split train/validation),
    with GLUE's label spaces, in real English from a seeded template grammar.

    All tasks share one lexicon (people and their hypernym *person*; things with hypernyms
    *vehicle, instrument, fruit, tool, flower*; synonym verb groups; places and times; sentiment
    adjectives in synonym pairs), so the labels depend on the text through shared structure:

    =====  ==========================================================================
    task   how the label is made
    =====  ==========================================================================
    cola   1 (70%): a grammatical sentence (active, passive or negated);
           0: scrambled word order, "did not" + past tense, "were" agreement error,
           or a determiner without its noun
    sst2   review of a film: adjective polarity XOR negation ("not", "never",
           "hardly", "far from"; 30%); "starts X but ends Y" takes Y's polarity
    mrpc   1 (68%): paraphrase (verb synonym, passive voice, fronted time);
           0: the same sentence with subject, verb, object or place changed
    stsb   k of the 4 slots (subject, verb, object, place) changed, k in 0..4;
           score = (4 - k)/4 + noise (sd 0.06), clipped to [0, 1]
    qqp    1 (37%): two questions of the same intent family (how / where / why)
           about the same verb group and object; 0: other family or other verb/object
    mnli   natural logic on "S V O" / "the S did not V O" / "nobody V O" pairs
           (same, hypernym or sibling subject/object, synonym verbs, modifiers,
           adjuncts): an affirmative premise entails hypernyms and dropped
           adjuncts (0), is contradicted by their negation (2); a negated one
           entails hyponyms (0), is contradicted by their affirmation (2);
           anything else is neutral (1)
    qnli   0: the sentence answers the who/what/where/when question (holds the
           asked slot of the same event); 1: other event or asked slot absent
    rte    as MNLI with one more sentence in the premise; 0: entailment,
           1: neutral or contradiction
    wnli   Winograd-style "... because she <clause>"; the clause decides who "she"
           is; hypothesis "the <person> <clause>": 1 iff it names the referent
    =====  ==========================================================================

    Mean-pooled all-MiniLM-L6-v2 embeddings with [u; v; |u-v|; u*v] (Eq. (22)) and a logistic
    regression learn every task but WNLI well above the majority class (700 examples per task);
    WNLI stays near chance, as on the real GLUE.

    Each frame also holds ``oracle``: the label a model that reads the generator's meaning would
    give (the label itself, which is a deterministic function of it, except STS-B's noiseless score
    ``(4 - k)/4``): the demo's attainable ceiling.

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    out = {}
    for name in _check_tasks(tasks):
        rng = random.Random(f"glue-demo/{seed}/{name}")
        seen: dict[tuple, tuple] = {}
        for _ in range(50 * n_per_task + 1):
            if len(seen) == n_per_task:
                break
            text_a, text_b, label, *oracle = _DEMO[name](rng)
            seen.setdefault((text_a, text_b), (text_a, text_b, label, oracle[0] if oracle else label))
        if len(seen) < n_per_task:
            raise RuntimeError(f"demo {name}: only {len(seen)} distinct examples; lower n_per_task")
        rows = list(seen.values())
        rng.shuffle(rows)
        n_val = max(1, round(val_fraction * len(rows)))
        out[name] = GlueTask(name, _demo_frame(rows[n_val:], name), _demo_frame(rows[:n_val], name), f"demo:seed={seed}")
    return out


def _demo_frame(rows: list[tuple], name: str) -> pd.DataFrame:
    """The frame of demo rows ``(text_a, text_b, label, oracle)``; ``oracle`` (the noiseless label,
    not part of GLUE's format and dropped when written to TSV) is what the demo's ceiling uses."""
    pair = _SCHEMAS[name].hub_b is not None
    frame = _frame([r[0] for r in rows], [r[1] for r in rows] if pair else None, [r[2] for r in rows])
    frame["oracle"] = [r[3] for r in rows]
    return frame
