"""A small curriculum the learning-path tests share (written as real YAML files), and its checks.

Two sections, six topics, two one-week tracks. ``backprop`` (3 h) is longer than a 2-hour day,
so plans split it; ``training-loop`` lists the lab key ``train``, so a ``llmlab train`` run
ticks it. Other test files import ``write_curriculum`` and ``start`` from here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from llmlab.path import store
from llmlab.path.curriculum import load_curriculum

RESOURCE = [{"kind": "visual", "title": "A picture of it", "ref": "https://example.org/picture"}]

SECTIONS = {
    "basics": [
        ("tokens", "Tokens and tokenizers", "basic", 1.0, [], [("tokenizer-train", "llmlab tokenizer train")]),
        ("embeddings", "Word embeddings", "basic", 1.5, ["tokens"], []),
        ("backprop", "Backpropagation", "basic", 3.0, [], []),
    ],
    "models": [
        ("attention", "Self-attention", "basic", 2.0, ["embeddings"], []),
        ("training-loop", "The training loop", "intermediate", 1.0, ["attention", "backprop"],
         [("train", "llmlab train --preset gpt2-debug --steps 200")]),
        ("scaling", "Scaling laws", "advanced", 0.5, ["training-loop"], [("scaling-fit", "llmlab scaling fit")]),
    ],
}  # fmt: skip

TRACKS = {
    "beginner": {"title": "Beginner (1 week)", "weeks": 1, "sections": ["basics", "models"],
                 "tiers": ["basic", "intermediate"]},
    "advanced": {"title": "Advanced (1 week)", "weeks": 1, "sections": ["models"],
                 "tiers": ["basic", "intermediate", "advanced"]},
}  # fmt: skip


def write_curriculum(folder: Path) -> Path:
    """Write the fixture curriculum as YAML files into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for order, (section, topics) in enumerate(SECTIONS.items(), start=1):
        doc = {
            "id": section,
            "title": section.capitalize(),
            "order": order,
            "summary": f"The {section}.",
            "topics": [
                {
                    "id": tid,
                    "title": title,
                    "tier": tier,
                    "hours": hours,
                    "prerequisites": pre,
                    "summary": f"What {title.lower()} are.",
                    "resources": RESOURCE,
                    "labs": [
                        {"lab": k, "command": c, "status": "available" if k == "train" else "planned"}
                        for k, c in labs
                    ],
                }  # fmt: skip
                for tid, title, tier, hours, pre, labs in topics
            ],
        }
        (folder / f"{order:02d}-{section}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / "tracks.yaml").write_text(yaml.safe_dump(TRACKS, sort_keys=False))
    return folder


def set_today(monkeypatch, day: date) -> None:
    monkeypatch.setattr(store, "today", lambda: day)


def test_fixture_curriculum_loads_in_prerequisite_order(tmp_path: Path) -> None:
    cur = load_curriculum(write_curriculum(tmp_path / "cur"))
    order = [t.id for t in cur.track_topics("beginner")]
    assert order == ["tokens", "embeddings", "backprop", "attention", "training-loop"]
    assert [t.id for t in cur.track_topics("advanced")] == ["attention", "training-loop", "scaling"]
    assert [t.id for t in cur.topics_for_lab("train")] == ["training-loop"]
