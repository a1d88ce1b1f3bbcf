"""The meaning map: PCA vs scikit-learn, t-SNE, Procrustes alignment, PNG / HTML / frame output."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn import decomposition

from llmlab.embeddings import meaning_map as mm
from llmlab.embeddings.project import PCA, normalise, procrustes, project_frames, tsne
from llmlab.embeddings.vectors import OOVError, WordVectors
from llmlab.errors import LLMLabError

WORDS = ["france", "paris", "italy", "rome", "one", "two", "three", "dog", "cat", "horse", "</script>x"]


@pytest.fixture(scope="module")
def table() -> WordVectors:
    rng = np.random.default_rng(0)
    words = WORDS + [f"w{i}" for i in range(60)]
    return WordVectors(words, rng.normal(size=(len(words), 12)).astype(np.float32))


@pytest.mark.parametrize("shape, k", [((50, 8), 2), ((200, 30), 5), ((6, 10), 3)])
def test_pca_equals_scikit_learn(shape, k) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1]))  # correlated columns
    ours, ref = PCA.fit(X, k), decomposition.PCA(k).fit(X)
    # the same sign rule, so no "up to sign" is needed
    np.testing.assert_allclose(ours.components, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-10)


def test_tsne_keeps_two_clusters_apart() -> None:
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(0, 0.1, size=(15, 10)), rng.normal(5, 0.1, size=(15, 10))])
    Y = tsne(X, seed=0)
    assert Y.shape == (30, 2)
    centre_a, centre_b = Y[:15].mean(0), Y[15:].mean(0)
    spread = max(
        np.linalg.norm(Y[:15] - centre_a, axis=1).max(), np.linalg.norm(Y[15:] - centre_b, axis=1).max()
    )
    assert np.linalg.norm(centre_a - centre_b) > 2 * spread
    with pytest.raises(LLMLabError, match="t-SNE needs at least 4 points"):
        tsne(X[:3])


def test_procrustes_undoes_a_rotation_and_a_reflection() -> None:
    rng = np.random.default_rng(3)
    target = normalise(rng.normal(size=(20, 2)))
    angle = 1.1
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    np.testing.assert_allclose(procrustes(target @ R, target), target, atol=1e-10)
    frames = project_frames([target @ R * 3, target])  # scaled, rotated, mirrored: aligned back
    np.testing.assert_allclose(frames[0], frames[1], atol=1e-10)


def test_png_and_html_maps(table, tmp_path) -> None:
    chosen = mm.choose_words(table, words=WORDS[:4], top=5)
    wmap = mm.build_map(table, chosen, method="pca")
    png = mm.save_png(wmap, tmp_path / "map.png", "test map")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    html = mm.save_html(wmap, tmp_path / "map.html", "test <map>").read_text()
    assert "<title>test &lt;map&gt;</title>" in html
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)[1])
    assert data["words"] == [w for w, _ in chosen]
    assert [g["name"] for g in data["groups"]] == ["words", "frequent"]
    assert data["frames"][0]["neighbours"][0] == [w for w, _ in table.most_similar("france", topn=5)]
    assert not re.search(r"https?:|//cdn|<link|\ssrc=", html)  # self-contained: nothing fetched


def test_a_word_that_closes_the_script_tag_stays_inside_it(table, tmp_path) -> None:
    wmap = mm.build_map(table, [("</script>x", "words"), ("paris", "words")])
    html = mm.save_html(wmap, tmp_path / "map.html", "t").read_text()
    assert html.count("</script>") == 2  # the data block's end and the code block's end, nothing else
    assert "<\\/script>x" in html


def test_categories_and_word_choice(table) -> None:
    chosen = mm.choose_words(table, categories=["countries", "numbers"])
    assert chosen == [("france", "countries"), ("italy", "countries"), ("one", "numbers"),
                      ("two", "numbers"), ("three", "numbers")]  # fmt: skip
    assert [w for w, _ in mm.choose_words(table, top=3)] == ["france", "paris", "italy"]


def test_bad_word_lists_are_clear_errors(table) -> None:
    with pytest.raises(LLMLabError, match=r"no words to plot: give words, a --category, or --top N"):
        mm.choose_words(table)
    with pytest.raises(LLMLabError, match="unknown category 'planets'; choose from: countries, capitals"):
        mm.choose_words(table, categories=["planets"])
    with pytest.raises(OOVError, match="'pariss' is not in the vocabulary .* nearest spellings: paris"):
        mm.choose_words(table, words=["pariss", "rome"])
    with pytest.raises(LLMLabError, match="only 1 word to plot"):
        mm.choose_words(table, words=["rome"])
    with pytest.raises(LLMLabError, match="unknown projection 'umap'"):
        mm.build_map(table, [("rome", "a"), ("paris", "a")], method="umap")


def test_frames_from_saved_snapshots(table, tmp_path) -> None:
    """Snapshots as word2vec training saves them: random at first, the final table at the end."""
    rng = np.random.default_rng(4)
    folder = tmp_path / "snapshots"
    folder.mkdir()
    for k, a in enumerate([0.0, 0.5, 1.0]):
        noise = rng.normal(size=table.vectors.shape).astype(np.float32)
        WordVectors(table.words, (1 - a) * noise + a * table.vectors).save(
            folder / f"step_{k:04d}.safetensors"
        )
    names, snapshots = mm.load_snapshots(folder)
    assert names == ["step_0000", "step_0001", "step_0002"]
    chosen = mm.choose_words(snapshots[-1], categories=["countries", "numbers", "animals"])
    wmap = mm.build_frames(snapshots, chosen, names)
    written = mm.save_frames(wmap, tmp_path / "out", "w2v")
    assert [p.name for p in written] == [
        "frame_000.png",
        "frame_001.png",
        "frame_002.png",
        "frames.html",
        "frames.gif",
    ]
    assert (tmp_path / "out" / "frames.gif").read_bytes()[:6] == b"GIF89a"
    np.testing.assert_allclose(wmap.frames[-1], mm.build_map(snapshots[-1], chosen).frames[0], atol=1e-6)
    with pytest.raises(LLMLabError, match="holds no .safetensors snapshots"):
        mm.load_snapshots(tmp_path / "out")
