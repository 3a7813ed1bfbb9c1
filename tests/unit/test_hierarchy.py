"""The candidate multi-scale hierarchy (core/clustering/hierarchy.py): deterministic, nested levels, every
count reachable, exactly N, small groups found beside big ones, outliers kept out, constraints without refit."""
import numpy as np
from photoclust_app.core.clustering import hierarchy as H


def _data(seed=0, n_big=3, big=300, n_small=12, small=(10, 40), d=10):
    rng = np.random.default_rng(seed)
    parts, y = [], []
    for i in range(n_big):
        c = rng.uniform(-10, 10, d)
        parts.append(c + 1.0 * rng.standard_normal((big, d))); y += [i] * big
    for j in range(n_small):
        s = int(rng.integers(*small)); c = rng.uniform(-10, 10, d)
        parts.append(c + 0.15 * rng.standard_normal((s, d))); y += [100 + j] * s
    Z = np.concatenate(parts).astype(np.float32)
    X = np.maximum(Z @ rng.standard_normal((d, 64)), 0) + 0.01 * rng.random((len(Z), 64))
    return Z, X.astype(np.float32), np.array(y)


def _refines(fine, coarse):
    """Every fine cluster lies inside one coarse cluster (Unsorted ignored)."""
    for k in np.unique(fine[fine >= 0]):
        c = coarse[fine == k]
        c = c[c >= 0]
        if len(np.unique(c)) > 1:
            return False
    return True


def test_deterministic():
    Z, X, _ = _data()
    a, b = H.build(Z, X), H.build(Z.copy(), X.copy())
    assert a.default == b.default
    assert np.array_equal(H.cut(a, a.default), H.cut(b, b.default))


def test_finds_big_and_small_groups():
    from sklearn.metrics import normalized_mutual_info_score as nmi
    Z, X, y = _data()
    t = H.build(Z, X)
    lab = H.cut(t, H.default_level(t))
    assert nmi(y, lab) > 0.95, nmi(y, lab)
    assert (lab < 0).mean() < 0.02


def test_levels_nested_and_counts_match():
    Z, X, _ = _data(1)
    t = H.build(Z, X)
    lv = H.levels(t)
    assert lv[0][1] == 1 and len(lv) == len(t.order) + 1
    prev = None
    for level, k in lv[:: max(1, len(lv) // 40)] + [lv[t.default], lv[-1]]:
        lab = H.cut(t, level)
        assert lab.max() + 1 == k, (level, k, lab.max() + 1)
        if prev is not None and prev[0] < level:
            assert _refines(lab, prev[1])
        prev = (level, lab)
    assert all(abs(a[1] - b[1]) <= 1 for a, b in zip(lv, lv[1:]))  # every count is reachable


def test_random_vectors_stay_unsorted():
    Z, X, y = _data(2)
    rng = np.random.default_rng(5)
    G = rng.standard_normal((6, X.shape[1])).astype(np.float32)  # cos ~0 to every photo
    Zg = Z[rng.integers(0, len(Z), 6)] + 0.01  # UMAP would put them inside clusters
    t = H.build(np.vstack([Z, Zg]), np.vstack([X, G]))
    lab = H.cut(t, t.default)
    assert (lab[-6:] == -1).all()
    assert (lab[:-6] < 0).mean() < 0.02


def test_exactly_n():
    Z, X, _ = _data(3)
    t = H.build(Z, X)
    for n in (1, 2, 5, 15, 20):
        lab = H.exactly_n(Z, n, t)
        assert lab.max() + 1 == n
    assert len(np.unique(H.exactly_n(Z, 7))) == 7  # k-means path


def test_constraints():
    Z, X, y = _data(4)
    t = H.build(Z, X)
    lab = H.cut(t, t.default)
    p = int(np.flatnonzero(lab == 0)[0]); q = int(np.flatnonzero(lab == 1)[0])
    H.must_link(t, p, q)  # p follows q at every level
    for level in range(1, len(t.order) + 1, 7):
        lab = H.cut(t, level)
        assert lab[p] == lab[q] or lab[q] < 0
    a, b = np.flatnonzero(y == y[0])[:2]  # two photos of one group: keep them apart
    H.cannot_link(t, int(a), int(b))
    for level in range(1, len(t.order) + 1, 7):
        lab = H.cut(t, level)
        assert lab[a] != lab[b] or lab[a] < 0
    assert H.levels(t)[t.default][1] == H.cut(t, t.default).max() + 1


def test_tiny_and_degenerate_inputs():
    rng = np.random.default_rng(0)
    for n in (12, 30):
        Z = rng.standard_normal((n, 10)).astype(np.float32)
        t = H.build(Z)
        lab = H.cut(t, t.default)
        assert len(lab) == n and lab.max() >= -1
    Z = np.zeros((50, 10), np.float32) + rng.standard_normal((50, 10)).astype(np.float32) * 1e-3
    t = H.build(Z)
    assert H.cut(t, 0).max() == 0  # level 0 is one cluster

