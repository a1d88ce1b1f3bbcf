"""From D dimensions to 2: PCA written out, t-SNE through scikit-learn, and aligning maps over time.

Word vectors have 50 to 300 dimensions; a screen has 2. Two ways down:

**PCA** (principal component analysis; Pearson 1901, Hotelling 1933) keeps the 2 directions along
which the points spread most, a rotation followed by dropping all but two axes, so distances in
the map are honest shadows of the real ones::

    1. centre:      Xc = X - mean(X)                                  (N, D)
    2. SVD:         Xc = U S V^T   (rows of V^T: the principal axes, by decreasing spread)
    3. sign:        flip each axis so its largest-magnitude entry is positive (scikit-learn's rule)
    4. project:     Y = Xc @ V^T[:k].T                                 (N, k)
    explained variance of axis i: S_i^2 / (N - 1)

**t-SNE** (van der Maaten & Hinton, JMLR 2008) instead keeps *neighbourhoods*: points close in D
dims stay close in 2, at the price of distorted distances between clusters. We call
scikit-learn's implementation (``perplexity`` ~ the number of neighbours each point cares about).

**Frames.** A map drawn from each training snapshot would spin and mirror from one frame to the
next (a PCA axis has no preferred sign; t-SNE no preferred orientation). :func:`procrustes`
rotates (or reflects) each frame onto the final one (orthogonal Procrustes: Schonemann 1966),
after scaling every frame to the same spread, so the animation shows words moving, not the camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmlab.errors import LLMLabError

METHODS = ("pca", "tsne")


@dataclass
class PCA:
    """A fitted PCA: ``transform(X)`` projects new points onto the same axes."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D): the principal axes, unit length, by decreasing variance
    explained_variance: np.ndarray  # (k,): the variance of the points along each axis
    explained_variance_ratio: np.ndarray  # (k,): that variance as a share of the total

    @classmethod
    def fit(cls, X: np.ndarray, n_components: int = 2) -> PCA:
        X = np.asarray(X, dtype=np.float64)
        N, D = X.shape
        if not 1 <= n_components <= min(N, D):
            raise LLMLabError(
                f"PCA to {n_components} dims needs at least that many points and dims, got {N}x{D}"
            )
        mean = X.mean(axis=0)  # (D,)
        Xc = X - mean  # 1. centre  (N, D)
        _, S, Vt = np.linalg.svd(Xc, full_matrices=False)  # 2. (min(N, D),), (min(N, D), D)
        # 3. subtle: an axis and its negative are equally good; pick the sign scikit-learn picks
        biggest = np.argmax(np.abs(Vt), axis=1)  # (min(N, D),)
        Vt *= np.sign(Vt[np.arange(len(Vt)), biggest])[:, None]
        variance = S**2 / max(N - 1, 1)
        total = variance.sum()
        ratio = variance / total if total > 0 else np.zeros_like(variance)
        return cls(mean, Vt[:n_components], variance[:n_components], ratio[:n_components])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, D) -> (N, k): coordinates along the principal axes."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.components.T  # 4. (N, k)


def pca(X: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Fit a PCA on ``X`` (N, D) and project it: (N, n_components)."""
    return PCA.fit(X, n_components).transform(X)


def tsne(X: np.ndarray, n_components: int = 2, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE of ``X`` (N, D) -> (N, n_components); perplexity is capped below N."""
    from sklearn.manifold import TSNE  # imported here: scikit-learn takes a second to load

    X = np.asarray(X, dtype=np.float64)
    if len(X) < 4:
        raise LLMLabError(f"t-SNE needs at least 4 points, got {len(X)}; use PCA for fewer")
    # subtle: scikit-learn refuses perplexity >= N; a third of N keeps small maps meaningful
    perplexity = min(perplexity, max(1.0, (len(X) - 1) / 3))
    model = TSNE(n_components, perplexity=perplexity, init="pca", random_state=seed)
    return model.fit_transform(X)


def project(X: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) by ``pca`` or ``tsne``."""
    if method == "pca":
        return pca(X, 2)
    if method == "tsne":
        return tsne(X, 2, seed=seed)
    raise LLMLabError(f"unknown projection {method!r}; choose one of: {', '.join(METHODS)}")


def normalise(Y: np.ndarray) -> np.ndarray:
    """Centre ``Y`` (N, 2) and scale it to root-mean-square distance 1 from the centre."""
    Y = Y - Y.mean(axis=0)
    rms = np.sqrt((Y**2).sum(axis=1).mean())
    return Y / rms if rms > 0 else Y


def procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (N, 2) rotated/reflected to best match ``target`` (N, 2): argmin_R ||source R - target||.

    With both centred, R = U V^T where U S V^T = svd(source^T target) (orthogonal Procrustes).
    """
    U, _, Vt = np.linalg.svd(source.T @ target)  # (2, 2) each
    return source @ (U @ Vt)


def project_frames(snapshots: Sequence[np.ndarray], method: str = "pca", seed: int = 0) -> list[np.ndarray]:
    """One (N, 2) map per snapshot of the same N words, all aligned to the last one.

    1. project each snapshot on its own (its own PCA or t-SNE), 2. scale each to unit spread,
    3. Procrustes-rotate each onto the last map.
    """
    if not snapshots:
        raise LLMLabError("no snapshots to project")
    maps = [normalise(project(X, method, seed)) for X in snapshots]  # 1, 2
    final = maps[-1]
    return [procrustes(m, final) for m in maps[:-1]] + [final]  # 3
