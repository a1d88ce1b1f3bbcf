"""The curriculum's nouns: resources, labs, topics, sections, tracks, and the curriculum itself.

These are plain frozen dataclasses; :mod:`llmlab.path.curriculum` builds them from the YAML files
and validates them, so code that holds a :class:`Curriculum` can trust it (ids unique, every
prerequisite known, no cycles). The one algorithm here is the study order of a track
(:meth:`Curriculum.track_topics`): a topological sort of the prerequisite graph (Kahn, 1962) that,
among the topics ready at each step, takes the one that comes first in the files, so the order
reads like the sections do and only moves a topic later when a prerequisite forces it.
"""

from __future__ import annotations

import difflib
import heapq
from dataclasses import dataclass

from llmlab.errors import LLMLabError

TIERS = ("basic", "intermediate", "advanced")
RESOURCE_KINDS = ("visual", "interactive", "practical", "reading")
LAB_STATUSES = ("available", "planned")


class CurriculumError(LLMLabError):
    """A curriculum file is malformed: bad YAML, a missing or unknown field, a cycle ..."""


class UnknownTopicError(LLMLabError):
    """A topic id that is not in the curriculum."""


class UnknownTrackError(LLMLabError):
    """A track id that is not in tracks.yaml."""


@dataclass(frozen=True)
class Resource:
    """Something to watch, try, build or read about a topic."""

    kind: str  # one of RESOURCE_KINDS: visual | interactive | practical | reading
    title: str  # what it is, with its author ("Karpathy, Let's build GPT")
    ref: str  # a URL, or a citation such as "arXiv:1706.03762"


@dataclass(frozen=True)
class Lab:
    """An llmlab command that makes a topic hands-on; its runs are recorded under ``lab``."""

    lab: str  # lab key, e.g. "train", "embeddings-analogy"
    command: str  # a runnable example, starting with "llmlab "
    status: str  # "available" (exists today) or "planned" (not built yet, never faked)


@dataclass(frozen=True)
class Topic:
    """One unit of study: what a plan schedules and progress ticks off."""

    id: str  # kebab-case, unique across all sections
    title: str
    section: str  # id of the section it belongs to
    tier: str  # basic | intermediate | advanced
    hours: float  # estimated study time, 0.25 .. 8
    prerequisites: tuple[str, ...]  # topic ids that should be studied first
    summary: str  # what the learner will understand
    resources: tuple[Resource, ...]
    labs: tuple[Lab, ...]


@dataclass(frozen=True)
class Section:
    """A chapter of the curriculum (one YAML file)."""

    id: str
    title: str
    order: int  # position in the curriculum, from the file name's NN
    summary: str
    topics: tuple[Topic, ...]

    @property
    def hours(self) -> float:
        return sum(t.hours for t in self.topics)


@dataclass(frozen=True)
class Track:
    """A route through the curriculum: some sections, the topics of some tiers."""

    id: str  # "beginner", "advanced"
    title: str
    weeks: int  # intended length of a plan at the default hours per day
    sections: tuple[str, ...]  # section ids, in study order
    tiers: tuple[str, ...]  # the tiers whose topics belong to the track


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


@dataclass(frozen=True)
class Curriculum:
    """All sections (in order) and tracks; built and validated by ``load_curriculum``."""

    sections: tuple[Section, ...]
    tracks: tuple[Track, ...]

    @property
    def topics(self) -> list[Topic]:
        """Every topic, in section order and then file order."""
        return [t for s in self.sections for t in s.topics]

    def topic(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        hint = _did_you_mean(topic_id, [t.id for t in self.topics])
        raise UnknownTopicError(f"unknown topic {topic_id!r}{hint}")

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        valid = ", ".join(s.id for s in self.sections)
        raise CurriculumError(f"unknown section {section_id!r}; the sections are: {valid}")

    def track(self, track_id: str) -> Track:
        for tr in self.tracks:
            if tr.id == track_id:
                return tr
        valid = ", ".join(tr.id for tr in self.tracks)
        raise UnknownTrackError(f"unknown track {track_id!r}; choose one of: {valid}")

    def track_topics(self, track_id: str) -> list[Topic]:
        """The track's topics in a study order that respects prerequisites.

        Prerequisites outside the track count as already known (the advanced track skips the
        fundamentals on purpose). Steps:
          1. keep the topics of the track's sections (in the track's section order) whose tier is listed;
          2. count, for each topic, its prerequisites inside the track (its in-degree);
          3. repeatedly take the ready topic (in-degree 0) that comes first in that order, and
             lower the in-degree of the topics that need it.
        """
        track = self.track(track_id)
        by_section = {s.id: s for s in self.sections}
        chosen = [t for sid in track.sections for t in by_section[sid].topics if t.tier in track.tiers]  # 1.
        position = {t.id: i for i, t in enumerate(chosen)}
        waiting = {t.id: sum(p in position for p in t.prerequisites) for t in chosen}  # 2.
        needed_by: dict[str, list[str]] = {t.id: [] for t in chosen}
        for t in chosen:
            for p in t.prerequisites:
                if p in position:
                    needed_by[p].append(t.id)
        ready = [position[tid] for tid, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[Topic] = []
        while ready:  # 3.
            t = chosen[heapq.heappop(ready)]
            order.append(t)
            for nxt in needed_by[t.id]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    heapq.heappush(ready, position[nxt])
        # subtle: the loader rejects cycles, so every topic comes out; a shortfall would be a bug.
        assert len(order) == len(chosen), "prerequisite cycle slipped past validation"
        return order

    def track_hours(self, track_id: str) -> float:
        """Total estimated hours of a track's topics."""
        return sum(t.hours for t in self.track_topics(track_id))

    def topics_for_lab(self, lab_key: str) -> list[Topic]:
        """Topics that list the lab ``lab_key`` (a run of that lab counts for them)."""
        return [t for t in self.topics if any(lab.lab == lab_key for lab in t.labs)]
