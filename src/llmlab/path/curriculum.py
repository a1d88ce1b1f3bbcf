"""Load and validate the curriculum: one YAML file per section plus ``tracks.yaml``.

The curriculum is data, so a learner or teacher can edit it without touching code
(``docs/learning-path.md`` explains how). The price of data is that it can be wrong, so this file
checks everything a plan relies on and answers a mistake with one line naming the file and the
field, e.g. ``curriculum/02-fundamentals.yaml: topic 'backpropagation': hours must be a number
between 0.25 and 8, got 'two'``. Steps of :func:`load_curriculum`:
  1. read every ``NN-<section-id>.yaml`` in order and check its fields and types;
  2. check ids are unique across all sections and every prerequisite names a known topic;
  3. check the prerequisite graph has no cycle (depth-first search; a cycle is named in full);
  4. read ``tracks.yaml`` and check each track's sections and tiers exist.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from llmlab.path.topics import (
    LAB_STATUSES,
    RESOURCE_KINDS,
    TIERS,
    Curriculum,
    CurriculumError,
    Lab,
    Resource,
    Section,
    Topic,
    Track,
    UnknownTopicError,
    UnknownTrackError,
)

# libyaml when present (10x faster); a safe loader either way: no Python objects from YAML tags
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "Curriculum",
    "CurriculumError",
    "Lab",
    "Resource",
    "Section",
    "Topic",
    "Track",
    "UnknownTopicError",
    "UnknownTrackError",
    "load_curriculum",
    "PACKAGED_FOLDER",
]

PACKAGED_FOLDER = Path(__file__).with_name("curriculum")
MIN_HOURS, MAX_HOURS = 0.25, 8.0
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SECTION_FILE = re.compile(r"^(\d\d)-(.+)\.yaml$")

# field -> (required?, expected Python type(s)); optional lists default to empty
_SECTION_FIELDS = {
    "id": (True, str),
    "title": (True, str),
    "order": (True, int),
    "summary": (True, str),
    "topics": (True, list),
}
_TOPIC_FIELDS = {
    "id": (True, str),
    "title": (True, str),
    "tier": (True, str),
    "hours": (True, (int, float)),
    "prerequisites": (False, list),
    "summary": (True, str),
    "resources": (True, list),
    "labs": (False, list),
}
_RESOURCE_FIELDS = {"kind": (True, str), "title": (True, str), "ref": (True, str)}
_LAB_FIELDS = {"lab": (True, str), "command": (True, str), "status": (True, str)}
_TRACK_FIELDS = {"title": (True, str), "weeks": (True, int), "sections": (True, list), "tiers": (True, list)}

_cached_default: Curriculum | None = None


def _read_yaml(path: Path, where: str) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise CurriculumError(f"{where}: not valid YAML{line}: {problem}") from None


def _check_fields(data: Any, spec: dict[str, tuple[bool, Any]], where: str) -> dict[str, Any]:
    """Check a mapping has exactly the known fields, the required ones, with the right types."""
    if not isinstance(data, dict):
        raise CurriculumError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    unknown = [k for k in data if k not in spec]
    if unknown:
        hint = difflib.get_close_matches(str(unknown[0]), list(spec), n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise CurriculumError(
            f"{where}: unknown field {unknown[0]!r}{did}; the fields are: {', '.join(spec)}"
        )
    for name, (required, types) in spec.items():
        if name not in data:
            if required:
                raise CurriculumError(f"{where}: missing field {name!r}")
            continue
        value = data[name]
        # subtle: YAML reads `yes` as True and bool is a subclass of int, so reject bools explicitly
        if isinstance(value, bool) or not isinstance(value, types):
            kind = {str: "text", int: "a whole number", list: "a list"}.get(types, "a number")  # type: ignore[call-overload]
            raise CurriculumError(f"{where}: {name} must be {kind}, got {value!r}")
    return data


def _check_choice(value: str, choices: tuple[str, ...], field: str, where: str) -> None:
    if value not in choices:
        raise CurriculumError(f"{where}: {field} must be one of {', '.join(choices)}, got {value!r}")


def _check_id(value: str, where: str) -> None:
    if not _KEBAB.match(value):
        raise CurriculumError(f"{where}: id must be kebab-case (a-z, 0-9, dashes), got {value!r}")


def _str_list(values: list, field: str, where: str) -> tuple[str, ...]:
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise CurriculumError(f"{where}: {field} must be a list of ids, got {bad[0]!r}")
    return tuple(values)


def _parse_topic(raw: Any, section_id: str, where: str) -> Topic:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        where = f"{where}: topic {raw['id']!r}"
    else:
        where = f"{where}: a topic"
    hours = raw.get("hours") if isinstance(raw, dict) else None
    is_number = isinstance(hours, (int, float)) and not isinstance(
        hours, bool
    )  # subtle: YAML `yes` is a bool
    if hours is not None and not (is_number and MIN_HOURS <= hours <= MAX_HOURS):
        raise CurriculumError(f"{where}: hours must be a number between 0.25 and 8, got {hours!r}")
    d = _check_fields(raw, _TOPIC_FIELDS, where)
    _check_id(d["id"], where)
    _check_choice(d["tier"], TIERS, "tier", where)
    if not d["resources"]:
        raise CurriculumError(f"{where}: resources must list at least one resource")
    resources = []
    for r in d["resources"]:
        r = _check_fields(r, _RESOURCE_FIELDS, f"{where}: resource")
        _check_choice(r["kind"], RESOURCE_KINDS, "resource kind", where)
        resources.append(Resource(r["kind"], r["title"].strip(), r["ref"].strip()))
    labs = []
    for lab in d.get("labs") or []:
        lab = _check_fields(lab, _LAB_FIELDS, f"{where}: lab")
        _check_choice(lab["status"], LAB_STATUSES, "lab status", where)
        if not lab["command"].startswith("llmlab "):
            raise CurriculumError(f"{where}: lab command must start with 'llmlab ', got {lab['command']!r}")
        labs.append(Lab(lab["lab"], lab["command"].strip(), lab["status"]))
    return Topic(
        id=d["id"],
        title=d["title"].strip(),
        section=section_id,
        tier=d["tier"],
        hours=float(d["hours"]),
        prerequisites=_str_list(d.get("prerequisites") or [], "prerequisites", where),
        summary=" ".join(d["summary"].split()),
        resources=tuple(resources),
        labs=tuple(labs),
    )


def _parse_section(path: Path, where: str) -> Section:
    d = _check_fields(_read_yaml(path, where), _SECTION_FIELDS, where)
    _check_id(d["id"], where)
    m = _SECTION_FILE.match(path.name)
    if m is None or m.group(2) != d["id"] or int(m.group(1)) != d["order"]:
        raise CurriculumError(
            f"{where}: the file name must be NN-<id>.yaml with NN = order, "
            f"i.e. {d['order']:02d}-{d['id']}.yaml"
        )
    if not d["topics"]:
        raise CurriculumError(f"{where}: topics must list at least one topic")
    topics = tuple(_parse_topic(t, d["id"], where) for t in d["topics"])
    return Section(d["id"], d["title"].strip(), d["order"], " ".join(d["summary"].split()), topics)


def _find_cycle(topics: list[Topic]) -> list[str] | None:
    """Depth-first search with three colours; returns one cycle as [a, b, ..., a], or None."""
    prereqs = {t.id: t.prerequisites for t in topics}
    colour = dict.fromkeys(prereqs, 0)  # 0 = unseen, 1 = on the current path, 2 = finished
    for start in prereqs:
        if colour[start]:
            continue
        path, stack = [start], [iter(prereqs[start])]
        colour[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour[nxt] == 1:  # back edge: the path from nxt to here is a cycle
                return path[path.index(nxt) :] + [nxt]  # each topic needs the next one
            elif colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(prereqs[nxt]))
    return None


def _parse_tracks(path: Path, sections: dict[str, Section], where: str) -> tuple[Track, ...]:
    if not path.is_file():
        raise CurriculumError(f"{where}: file not found")
    data = _read_yaml(path, where)
    if not isinstance(data, dict) or not data:
        raise CurriculumError(f"{where}: expected a mapping of track ids to tracks")
    tracks = []
    for track_id, raw in data.items():
        here = f"{where}: track {track_id!r}"
        if not isinstance(track_id, str):
            raise CurriculumError(f"{here}: a track id must be text")
        _check_id(track_id, here)
        d = _check_fields(raw, _TRACK_FIELDS, here)
        if d["weeks"] < 1:
            raise CurriculumError(f"{here}: weeks must be at least 1, got {d['weeks']}")
        for sid in _str_list(d["sections"], "sections", here):
            if sid not in sections:
                hint = difflib.get_close_matches(sid, list(sections), n=1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise CurriculumError(f"{here}: unknown section {sid!r}{did}")
        for tier in _str_list(d["tiers"], "tiers", here):
            _check_choice(tier, TIERS, "tier", here)
        tracks.append(
            Track(track_id, d["title"].strip(), d["weeks"], tuple(d["sections"]), tuple(d["tiers"]))
        )
    return tuple(tracks)


def load_curriculum(folder: Path | None = None) -> Curriculum:
    """Read and validate a curriculum folder (default: the one shipped with llmlab, cached)."""
    global _cached_default
    if folder is None and _cached_default is not None:
        return _cached_default
    root = PACKAGED_FOLDER if folder is None else Path(folder)
    if not root.is_dir():
        raise CurriculumError(f"curriculum folder not found: {root}")
    label = root.name  # messages name files as "curriculum/02-fundamentals.yaml"
    files = sorted(p for p in root.glob("*.yaml") if p.name != "tracks.yaml")
    if not files:
        raise CurriculumError(f"{root}: no section files (NN-<section-id>.yaml)")
    sections = [_parse_section(p, f"{label}/{p.name}") for p in files]  # 1.
    seen: dict[str, str] = {}  # 2.
    for s, p in zip(sections, files, strict=True):
        if s.id in seen:
            raise CurriculumError(f"{label}/{p.name}: duplicate section id {s.id!r} (also in {seen[s.id]})")
        seen[s.id] = p.name
    orders = [s.order for s in sections]
    if len(set(orders)) != len(orders):
        raise CurriculumError(f"{label}: two section files share the order number; use distinct NN")
    where_topic: dict[str, str] = {}
    for s, p in zip(sections, files, strict=True):
        for t in s.topics:
            if t.id in where_topic:
                raise CurriculumError(
                    f"{label}/{p.name}: duplicate topic id {t.id!r} (also in {where_topic[t.id]})"
                )
            where_topic[t.id] = p.name
    for s, p in zip(sections, files, strict=True):
        for t in s.topics:
            for pre in t.prerequisites:
                if pre not in where_topic:
                    hint = difflib.get_close_matches(pre, list(where_topic), n=1)
                    did = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise CurriculumError(
                        f"{label}/{p.name}: topic {t.id!r}: unknown prerequisite {pre!r}{did}"
                    )
    all_topics = [t for s in sections for t in s.topics]
    cycle = _find_cycle(all_topics)  # 3.
    if cycle:
        raise CurriculumError(f"{label}: prerequisite cycle: {' -> '.join(cycle)} (each needs the next)")
    tracks = _parse_tracks(root / "tracks.yaml", {s.id: s for s in sections}, f"{label}/tracks.yaml")  # 4.
    curriculum = Curriculum(tuple(sections), tracks)
    if folder is None:
        _cached_default = curriculum
    return curriculum
