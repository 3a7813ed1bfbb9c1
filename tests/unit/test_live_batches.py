"""Live batches: committed photos go out at most every interval, with a provisional map
position near their laid-out neighbours, or on a first index's PCA plane (refitted at most
every few seconds, the same vectors landing in the same place), and a failure here never
stops the index."""
import numpy as np

from photoclust_app.core.ingest.live_batches import LiveBatches


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class FakeLib:
    """The three reads LiveBatches makes, once."""

    def __init__(self, ids=(), X=None, labels=(), xy=None):
        self.ids = np.asarray(ids, np.int64)
        self.X = np.zeros((0, 4), np.float32) if X is None else np.asarray(X, np.float32)
        self.table = {int(p): (int(c), 1.0, False) for p, c in zip(self.ids, labels) if c >= 0}
        self.xy = np.zeros((0, 2), np.float32) if xy is None else np.asarray(xy, np.float32)
        self.reads = 0

    def layout(self):
        self.reads += 1
        return (self.ids, self.xy) if len(self.xy) else (np.zeros(0, np.int64), np.zeros((0, 2), np.float32))

    def embedding_matrix(self):
        self.reads += 1
        return self.ids, self.X

    def assignment_table(self):
        return self.table


def blobs(n_per, centres, rng, noise=0.05):
    X = np.vstack([c + rng.normal(0, noise, (n_per, len(c))) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(len(centres)), n_per)


def test_a_first_index_gets_a_provisional_pca_map_refitted_at_most_every_few_seconds():
    rng = np.random.default_rng(0)
    X, _ = blobs(10, np.eye(4)[:3], rng)
    clock, sent = Clock(), []
    live = LiveBatches(FakeLib(), sent.append, clock=clock, interval=0.5, refit=3.0)
    live.committed(list(range(1, 11)), [f"a{i}" for i in range(10)], X[:10])
    assert len(sent) == 1 and sent[0].replace and sent[0].projection == "pca"
    assert sent[0].map_ids.tolist() == list(range(1, 11))
    clock.t = 0.2
    live.committed(list(range(11, 21)), [f"b{i}" for i in range(10)], X[10:20])
    assert len(sent) == 1                       # within the interval: held back
    clock.t = 1.0
    live.committed([21], ["c0"], X[20:21])
    second = sent[-1]
    assert len(sent) == 2 and not second.replace   # projected onto the current plane, no refit
    assert second.photo_ids.tolist() == list(range(11, 22)) and len(second.relpaths) == 11
    first_xy = dict(zip(sent[0].map_ids.tolist(), map(tuple, sent[0].map_xy)))
    clock.t = 4.0
    live.committed([22, 1], ["c1", "a0"], np.vstack([X[21], X[0]]))   # photo 1 again (a changed file)
    third = sent[-1]
    assert third.replace and sorted(third.map_ids.tolist()) == list(range(1, 23))   # refitted: every photo once
    # a deterministic plane: fitted again on the first ten alone, the same positions
    again = []
    LiveBatches(FakeLib(), again.append, clock=Clock()).committed(list(range(1, 11)), ["x"] * 10, X[:10])
    assert np.allclose(again[0].map_xy, [first_xy[p] for p in range(1, 11)])
    # the three groups stay apart on the plane
    xy = dict(zip(third.map_ids.tolist(), map(np.array, third.map_xy)))
    centres = [np.mean([xy[p] for p in range(1 + 10 * g, 11 + 10 * g) if p in xy], axis=0) for g in range(3)]
    assert min(np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)) > 0.1


def test_new_photos_go_near_their_nearest_laid_out_neighbours():
    rng = np.random.default_rng(1)
    X, labels = blobs(20, np.eye(4)[:2] * 3, rng)
    ids = np.arange(1, 41)
    xy = np.where(labels[:, None] == 0, [0.0, 0.0], [10.0, 10.0]) + rng.normal(0, 0.3, (40, 2))
    lib, sent = FakeLib(ids, X, labels + 1, xy), []
    live = LiveBatches(lib, sent.append, clock=Clock())
    live.committed([100, 101], ["n0", "n1"], np.vstack([X[25] + 0.01, X[3] - 0.01]))
    b = sent[0]
    assert b.projection == "place" and not b.replace and b.map_ids.tolist() == [100, 101]
    assert np.linalg.norm(b.map_xy[0] - [10, 10]) < 1.5 and np.linalg.norm(b.map_xy[1]) < 1.5
    live.flush()
    reads = lib.reads
    live.committed([102], ["n2"], X[:1])
    assert lib.reads == reads   # the library is read once, at the first batch


def test_flush_sends_what_is_left_and_a_failure_never_stops_the_index():
    clock, sent = Clock(), []
    live = LiveBatches(FakeLib(), sent.append, clock=clock)
    live.committed([1], ["a"], np.ones((1, 4)))
    live.committed([2], ["b"], np.ones((1, 4)))
    assert [b.photo_ids.tolist() for b in sent] == [[1]]
    live.flush()
    assert [b.photo_ids.tolist() for b in sent] == [[1], [2]]
    live.flush()
    assert len(sent) == 2   # nothing new: nothing sent

    def broken(batch):
        raise RuntimeError("the pipe is gone")

    bad = LiveBatches(FakeLib(), broken, clock=clock)
    bad.committed([1], ["a"], np.ones((1, 4)))   # does not raise
    assert bad.broken
    bad.committed([2], ["b"], np.ones((1, 4)))
    bad.flush()


def test_the_index_hands_each_committed_batch_over(photo_folder):
    from photoclust_app.core.ingest.index import index_folder

    got = []
    report = index_folder(photo_folder, model="tiny-test", device="cpu", workers=0, batch_size=4,
                          on_commit=lambda ids, rel, X: got.append((list(ids), list(rel), X.shape)))
    assert sum(len(ids) for ids, _, _ in got) == report.embedded == 30
    assert all(len(ids) == len(rel) == shape[0] and len(ids) <= 4 for ids, rel, shape in got)
    assert len(got) >= 8
    from photoclust_app.core.store.library import Library

    with Library.open(photo_folder, readonly=True) as lib:
        assert sorted(p for ids, _, _ in got for p in ids) == sorted(lib.embedded_ids().tolist())
