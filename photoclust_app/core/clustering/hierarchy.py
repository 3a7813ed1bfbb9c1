"""One cluster hierarchy for photo libraries: density-separated groups + Ward trees, cut by modularity.

WHY (EfficientNet-Lite0 features, UMAP 10-d, seeds 0-4; tables in docs/research/clustering-hierarchy.md). Libraries are
multi-scale, and no flat HDBSCAN setting serves both scales: eom with min size sqrt(n) merges
look-alike classes (clothing10 NMI 0.36, 3 clusters), min size 8 shatters big classes (31
clusters, 19% noise), today's leaf sqrt(n) cannot form groups smaller than sqrt(n). Two facts
drive this design. (a) In HDBSCAN's condensed tree (min size 8) a real small group is born at
a distance several times its own typical spacing: rho = (typical density) / (density at birth)
is 3-30 for flower classes of 10-80 photos, while 89-95% of incidental pieces stay below 2.
(b) Inside a region with no such gap (shirts / long sleeves / t-shirts) density says nothing;
a Ward partition cut where modularity of the original-space kNN graph stops improving finds
the granularity k-means must be told (clothing10: 0.60 unaided vs k-means told k 0.58).

THE TREE. HDBSCAN(min_cluster_size = min_samples = min_size) on Z; condensed nodes with rho >=
gap_ratio are *anchors*. Atoms = condensed leaves; other points join the nearest leaf point of
their anchor's residual. Each anchor gets an exact Ward tree over its residual's atoms plus its
sub-anchors as weighted super-atoms, so nodes are point sets and the whole library is one
binary tree. A node's separation value is its parent's modularity ratio 2M e_xy/(vol_x vol_y)
(splitting the parent raises modularity at resolution g iff the ratio < g), lowered to
gap_ratio/rho for an anchor. At level L the first L nodes in (separation, depth, id) order are
separated; a photo belongs to the deepest separated node above it (cluster = node minus its
separated descendants), so levels are nested and a level change is one array pass. Default
level: everything below 1 (plain modularity; anchors at rho >= gap_ratio). Clusters under
min_size photos and outliers are Unsorted (no share target). Outlier: outside every mutual-kNN
component of >= min_size photos, and below Tukey's far-out fence (Q1 - 3 IQR; per cluster and
pooled) of cosine to its default cluster's core centroid in the original space; or, whatever
its neighbours, 6 IQR below its cluster's own. 6 random
vectors: Unsorted in every run; 0.1-1.1% of real photos Unsorted.

MEASURED, mean NMI over seeds 0-4 (winner / today / eom sqrt(n) / k-means told k): flowers12
0.877 / 0.877 / 0.884 / 0.902; clothing10 0.596 / 0.565 / 0.362 / 0.582; composite of 3 clothing
classes of 300-600 + 19 classes of 10-40: 0.637 / 0.573 / 0.514 / 0.573. 100k x 10-d (one core):
build 14-19 s (HDBSCAN 10-16 s of it), level change <= 7 ms, exactly_n from the tree <= 0.04 s.

CONSTRAINTS. must_link / cannot_link edit atom membership or pin a node as always separated:
the tree stays nested, no refit. Deterministic: no randomness except exactly_n's k-means path.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors

MIN_SIZE = 8  # smallest cluster; HDBSCAN min_cluster_size = min_samples
GAP_RATIO = 2.0  # anchor: typical point >= 2x denser than where the group split off
K_GRAPH = 15  # original-space kNN graph (UMAP's n_neighbors) when none is given
FENCE = 3.0  # Tukey's far-out fence, in IQRs below Q1
FAR_FENCE = 6.0  # so far below a cluster's own spread that being in a mutual-kNN group does not save it


@dataclass
class Tree:
    parent: np.ndarray  # (N,) nodes 0..A-1 are atoms, the rest binary Ward nodes; -1 at the root
    sep: np.ndarray  # (N,) separated at resolution g iff sep < g; -inf at the root
    rho: np.ndarray  # (N,) density-gap ratio of anchor nodes, nan elsewhere
    depth: np.ndarray  # (N,)
    topo: np.ndarray  # nodes, parents first (= ids descending; the root is the last node)
    centroid: np.ndarray  # (A, d) atom centroids in Z
    atom_of: np.ndarray  # (n,) atom of each photo
    outlier: np.ndarray  # (n,) Unsorted at every level
    min_size: int
    order: np.ndarray = None  # non-root nodes; level L separates order[:L]
    default: int = 0
    seconds: dict = field(default_factory=dict)


def build(Z, X=None, knn=None, *, min_size=MIN_SIZE, gap_ratio=GAP_RATIO) -> Tree:
    """Z (n, d) reduced space; X (n, D) original vectors (enables the outlier test); knn (n, k)
    original-space neighbours, e.g. UMAP's knn_indices (else computed from X, or from Z)."""
    t0 = time.perf_counter()
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    n = len(Z)
    if knn is None:
        P, metric = (Z, "euclidean") if X is None else (X, "cosine")
        knn = NearestNeighbors(n_neighbors=min(K_GRAPH, n - 1) + 1, metric=metric).fit(P).kneighbors(
            P, return_distance=False)[:, 1:]
    else:
        knn = _clean_knn(np.asarray(knn, dtype=np.int64))
    parent_c, birth, pnode, plam = _condensed(Z, min_size)
    t1 = time.perf_counter()
    rho_c = _rho(parent_c, birth, pnode, plam)
    anchor = rho_c >= gap_ratio
    anchor[0] = True
    K = len(parent_c)
    kids_c = [[] for _ in range(K)]
    for c in range(1, K):
        kids_c[parent_c[c]].append(c)
    res = np.zeros(K, np.int64)  # deepest anchor-or-self (hdbscan numbers parents first)
    for v in range(1, K):
        res[v] = v if anchor[v] else res[parent_c[v]]
    res_pt = res[pnode]
    seed = np.array([not kids_c[v] for v in range(K)])[pnode]  # photos of condensed leaves
    atom = np.where(seed, pnode, -1)
    for g in np.unique(res_pt[~seed]):
        rest = np.flatnonzero((res_pt == g) & ~seed)
        seeds = np.flatnonzero((res_pt == g) & seed)
        if len(seeds) == 0:  # no dense part here: nearest leaf anywhere (the outlier test decides)
            seeds = np.flatnonzero(seed)
        nn = NearestNeighbors(n_neighbors=1).fit(Z[seeds]).kneighbors(Z[rest], return_distance=False)[:, 0]
        atom[rest] = atom[seeds[nn]]
    uniq, atom = np.unique(atom, return_inverse=True)
    A = len(uniq)
    wcnt = list(np.bincount(atom, minlength=A).astype(float))
    acc = np.zeros((A, Z.shape[1]))
    np.add.at(acc, atom, Z)
    wsum = list(acc)
    parent, rho, top = [-1] * A, [np.nan] * A, {}
    for v in range(K - 1, -1, -1):  # anchors, deepest first
        if not anchor[v]:
            continue
        subs, st = [], list(kids_c[v])
        while st:
            u = st.pop()
            (subs.append(u) if anchor[u] else st.extend(kids_c[u]))
        subs = [u for u in sorted(subs) if u in top]
        for u in subs:
            rho[top[u]] = rho_c[u]
        ids = list(np.flatnonzero(res[uniq] == v)) + [top[u] for u in subs]
        if not ids:
            continue
        for a, b in _ward(np.array([wsum[p] / wcnt[p] for p in ids]), np.array([wcnt[p] for p in ids])):
            x, y = ids[a], ids[b]
            parent.append(-1); rho.append(np.nan)
            parent[x] = parent[y] = len(parent) - 1
            wsum.append(wsum[x] + wsum[y]); wcnt.append(wcnt[x] + wcnt[y])
            ids.append(len(parent) - 1)
        top[v] = ids[-1]
    parent, rho = np.array(parent, np.int64), np.array(rho)
    N, topo = len(parent), np.arange(len(parent) - 1, -1, -1)  # every parent id > its children's
    assert parent[-1] == -1 and (parent[:-1] > np.arange(N - 1)).all()
    t2 = time.perf_counter()
    # modularity ratio of each Ward split on the undirected kNN graph (union of the lists)
    e = np.unique(np.sort(np.c_[np.repeat(np.arange(n), knn.shape[1]), knn.ravel()], 1), axis=0)
    e = e[e[:, 0] != e[:, 1]]
    vol = np.zeros(N)
    np.add.at(vol, atom, np.bincount(e.ravel(), minlength=n).astype(float))
    for v in topo[:0:-1]:
        vol[parent[v]] += vol[v]
    depth = np.zeros(N, np.int64)
    for v in topo[1:]:
        depth[v] = depth[parent[v]] + 1
    exy = np.bincount(_lca(parent, depth, topo[0], atom[e[:, 0]], atom[e[:, 1]]), minlength=N)
    child_vol = np.ones(N)
    np.multiply.at(child_vol, parent[topo[1:]], vol[topo[1:]])
    sep = np.full(N, -np.inf)
    sep[topo[1:]] = (2 * len(e) * exy / np.maximum(child_vol, 1e-12))[parent[topo[1:]]]
    an = np.isfinite(rho)  # an anchor is separated from gap_ratio / rho on, whatever modularity says
    sep[an] = np.minimum(sep[an], gap_ratio / rho[an])
    tree = Tree(parent, sep, rho, depth, topo, acc / np.array(wcnt[:A])[:, None], atom, np.zeros(n, bool),
                int(min_size))
    _reorder(tree)
    t3 = time.perf_counter()
    if X is not None:
        tree.outlier = _outliers(np.asarray(X, dtype=np.float32), knn, cut(tree, tree.default), min_size)
    tree.seconds = {"hdbscan": t1 - t0, "tree": t2 - t1, "graph": t3 - t2, "outliers": time.perf_counter() - t3}
    return tree


def _clean_knn(knn: np.ndarray) -> np.ndarray:
    """UMAP's lists start with the point itself and mark disconnected neighbours -1: drop the
    first column when it is the point, and point a missing neighbour at the point itself
    (a self-loop, which the graph code removes)."""
    n = len(knn)
    if len(knn) and knn.shape[1] > 1 and (knn[:, 0] == np.arange(n)).mean() > 0.5:
        knn = knn[:, 1:]
    bad = (knn < 0) | (knn >= n)
    return np.where(bad, np.arange(n)[:, None], knn)


_ARRAYS = ("parent", "sep", "rho", "depth", "topo", "centroid", "atom_of", "outlier", "order")


def to_bytes(tree: Tree) -> bytes:
    """The tree as an .npz blob (no pickle), so a library can keep it beside the clustering."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, min_size=np.int64(tree.min_size), default=np.int64(tree.default),
                        **{k: getattr(tree, k) for k in _ARRAYS})
    return buf.getvalue()


def from_bytes(blob: bytes) -> Tree:
    """Inverse of to_bytes; ValueError when the blob is not a tree."""
    import io
    import zipfile

    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            parts = {k: z[k] for k in _ARRAYS}
            tree = Tree(**{k: v for k, v in parts.items() if k != "order"}, min_size=int(z["min_size"]))
            tree.order, tree.default = parts["order"], int(z["default"])
    except (KeyError, OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"not a stored cluster tree: {exc}") from exc
    n_nodes = len(tree.parent)
    if not (len(tree.sep) == len(tree.depth) == n_nodes and tree.atom_of.max(initial=0) < n_nodes
            and len(tree.outlier) == len(tree.atom_of)):
        raise ValueError("not a stored cluster tree: its arrays do not agree")
    return tree


def stops(tree: Tree) -> list[tuple[int, int]]:
    """The slider's stops: (clusters, level) for each cluster count the tree reaches, at the
    first (coarsest) level with that count, fewest clusters first."""
    first: dict[int, int] = {}
    for level, k in levels(tree):
        first.setdefault(k, level)
    return sorted((k, level) for k, level in first.items() if k >= 1)


def level_for(tree: Tree, n_clusters: int) -> int | None:
    """The first level with exactly n clusters, or None when the tree never has that many."""
    for level, k in levels(tree):
        if k == n_clusters:
            return level
    return None


def cut(tree: Tree, level: int) -> np.ndarray:
    """Labels (n,) at a level (0 = one cluster); -1 = Unsorted; 0 = the largest cluster."""
    sel = np.zeros(len(tree.parent), bool)
    sel[tree.order[:max(0, int(level))]] = True
    owner, pa = np.arange(len(sel)), tree.parent
    for v in tree.topo[1:]:  # parents first: inherit the owner unless separated
        if not sel[v]:
            owner[v] = owner[pa[v]]
    lab = np.where(tree.outlier, -1, owner[tree.atom_of])
    ok = lab >= 0
    ids, inv, cnt = np.unique(lab[ok], return_inverse=True, return_counts=True)
    keep = np.flatnonzero(cnt >= tree.min_size)
    rank = np.full(len(ids), -1)
    rank[keep[np.lexsort((ids[keep], -cnt[keep]))]] = np.arange(len(keep))  # by size, ties by node id
    out = np.full(len(lab), -1, np.int64)
    out[ok] = rank[inv]
    return out


def default_level(tree: Tree) -> int:
    return tree.default


def levels(tree: Tree) -> list[tuple[int, int]]:
    """(level, clusters of >= min_size photos) for every level; one union-find pass from the
    finest level back to level 0. Consecutive counts differ by at most one."""
    m, pa = tree.min_size, tree.parent
    own = np.bincount(tree.atom_of[~tree.outlier], minlength=len(pa))
    up = np.arange(len(pa))
    k = int((own >= m).sum())
    counts = [k]
    for v in tree.order[::-1]:  # un-separate v: its photos join its owner's cluster
        r = pa[v]
        while up[r] != r:
            up[r] = up[up[r]]
            r = up[r]
        k += int(own[r] + own[v] >= m) - int(own[r] >= m) - int(own[v] >= m)
        own[r] += own[v]
        up[v] = r
        counts.append(k)
    return list(enumerate(counts[::-1]))


def exactly_n(Z, n_clusters: int, tree: Tree | None = None, *, seed: int = 0) -> np.ndarray:
    """Exactly n clusters. With the tree: the first level with n clusters (instant, on the slider,
    better than k-means on multi-scale sets, docs/research/clustering-hierarchy.md). Else k-means on Z, every photo assigned."""
    if tree is not None and (level := level_for(tree, n_clusters)) is not None:
        return cut(tree, level)
    from sklearn.cluster import KMeans

    return KMeans(int(n_clusters), n_init=1, random_state=seed).fit_predict(np.asarray(Z)).astype(np.int64)


def must_link(tree: Tree, p: int, q: int) -> None:
    """Photo p goes wherever photo q goes, at every level (e.g. dragged into q's cluster)."""
    tree.atom_of[p], tree.outlier[p] = tree.atom_of[q], False


def cannot_link(tree: Tree, p: int, q: int) -> None:
    """Photos p and q never share a cluster at levels >= 1: the child of their lowest common
    node on p's side is pinned as separated (p first moves to the nearest other atom if needed)."""
    a, b = int(tree.atom_of[p]), int(tree.atom_of[q])
    if a == b:
        d = ((tree.centroid - tree.centroid[a]) ** 2).sum(1)
        d[a] = np.inf
        tree.atom_of[p] = a = int(np.argmin(d))
    anc, v = set(), b
    while v >= 0:
        anc.add(v)
        v = tree.parent[v]
    while tree.parent[a] not in anc:
        a = tree.parent[a]
    tree.sep[a] = -np.inf
    _reorder(tree)


def _reorder(tree):
    nr = tree.topo[1:]
    tree.order = nr[np.lexsort((nr, tree.depth[nr], tree.sep[nr]))]
    tree.default = int((tree.sep[nr] < 1.0).sum())


def _condensed(Z, m):
    import hdbscan

    n = len(Z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ct = hdbscan.HDBSCAN(min_cluster_size=m, min_samples=m, core_dist_n_jobs=1).fit(Z).condensed_tree_._raw_tree
    par, ch, lam = ct["parent"].astype(np.int64) - n, ct["child"].astype(np.int64), ct["lambda_val"]
    c = ch >= n
    K = int(max(par.max(initial=0), (ch[c] - n).max(initial=0))) + 1
    parent, birth, pnode, plam = np.full(K, -1), np.zeros(K), np.zeros(n, np.int64), np.zeros(n)
    parent[ch[c] - n], birth[ch[c] - n], pnode[ch[~c]], plam[ch[~c]] = par[c], lam[c], par[~c], lam[~c]
    return parent, birth, pnode, plam


def _rho(parent, birth, pnode, plam):
    """Median over a node's photos of (lambda where the photo leaves it: where it falls out, or
    where the node splits if it goes on) / the node's birth lambda."""
    K = len(parent)
    split = np.full(K, np.inf)
    np.minimum.at(split, parent[1:], birth[1:])
    tot = np.bincount(pnode, minlength=K)
    for v in range(K - 1, 0, -1):
        tot[parent[v]] += tot[v]
    order = np.lexsort((plam, pnode))
    start = np.searchsorted(pnode[order], np.arange(K + 1))
    rho = np.full(K, np.inf)
    for v in range(1, K):
        vals = plam[order[start[v]:start[v + 1]]]  # sorted; photos going on to children rank above
        mid = (tot[v] - 1) / 2.0
        pick = [vals[i] if i < len(vals) else split[v] for i in (int(np.floor(mid)), int(np.ceil(mid)))]
        rho[v] = (0.5 * (pick[0] + pick[1]) if tot[v] else birth[v]) / max(birth[v], 1e-300)
    return rho


def _ward(C, W):
    """Exact Ward on weighted centroids by the nearest-neighbour chain; merges as index pairs
    into the growing list [parts..., merge 0, merge 1, ...]."""
    k = len(C)
    C, W = C.astype(np.float64).copy(), W.astype(np.float64).copy()
    ids, active, sq = np.arange(k), np.ones(k, bool), (C ** 2).sum(1)
    out, chain = [], []
    while len(out) < k - 1:
        if not chain:
            chain = [int(np.flatnonzero(active)[0])]
        a = chain[-1]
        d = W * W[a] / (W + W[a]) * np.maximum(sq + sq[a] - 2 * C @ C[a], 0)
        d[~active] = np.inf
        d[a] = np.inf
        b = int(np.argmin(d))
        if len(chain) > 1 and d[chain[-2]] <= d[b]:  # reciprocal nearest neighbours: merge
            b = chain[-2]
            chain = chain[:-2]
            out.append((int(ids[a]), int(ids[b])))
            C[b] = (W[a] * C[a] + W[b] * C[b]) / (W[a] + W[b])
            W[b] += W[a]
            sq[b], active[a], ids[b] = C[b] @ C[b], False, k + len(out) - 1
        else:
            chain.append(b)
    return out


def _lca(parent, depth, root, a, b):
    """Lowest common ancestors by binary lifting, vectorised over the pairs."""
    up = [np.where(parent >= 0, parent, root)]
    while (1 << len(up)) <= depth.max() + 1:
        up.append(up[-1][up[-1]])
    swap = depth[a] < depth[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    diff = depth[a] - depth[b]
    for k in range(len(up)):
        m = ((diff >> k) & 1) == 1
        a[m] = up[k][a[m]]
    for k in range(len(up) - 1, -1, -1):
        m = up[k][a] != up[k][b]
        a[m], b[m] = up[k][a[m]], up[k][b[m]]
    return np.where(a == b, a, up[0][a])


def _outliers(X, knn, labels, m):
    """Strays (mutual-kNN component < m photos) below Tukey's far-out fence of cosine to their
    cluster's core centroid, the fence taken per cluster and over all clusters' cores (the
    pooled fence guards mixed clusters whose own spread is too wide to flag anything)."""
    n, k = knn.shape
    M = csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), knn.ravel())), shape=(n, n))
    stray = np.bincount(comp := connected_components(M.multiply(M.T), directed=False)[1])[comp] < m
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    cos, fence, far = np.full(n, np.nan), np.full(n, np.inf), np.full(n, -np.inf)

    def tukey(v, k=FENCE):
        q1, q3 = np.quantile(v, [0.25, 0.75])
        return q1 - k * (q3 - q1)
    for c in np.unique(labels[labels >= 0]):
        mem = np.flatnonzero(labels == c)
        core = mem[~stray[mem]]
        if len(core) >= 2:
            cen = Xn[core].sum(0)
            cos[mem] = Xn[mem] @ (cen / np.linalg.norm(cen))
            fence[mem], far[mem] = tukey(cos[core]), tukey(cos[core], FAR_FENCE)
    core = (labels >= 0) & ~stray & np.isfinite(cos)
    pooled = tukey(cos[core]) if core.any() else -np.inf
    c = np.nan_to_num(cos, nan=-np.inf)
    # A random direction beside a small group can be a mutual neighbour of its edge photos;
    # 6 IQRs below the group's own spread flagged no real photo of flowers, clothing or the
    # composites (seeds 0-1) and still catches it.
    return (labels >= 0) & ((stray & ~(c >= np.maximum(fence, pooled))) | (np.isfinite(cos) & (c < far)))
