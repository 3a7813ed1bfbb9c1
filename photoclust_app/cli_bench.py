"""`photoclust bench ...`: where the speed and quality figures live (never in timed tests)."""
from __future__ import annotations

import argparse
import json


def size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 4000x3000, not {text!r}") from None


def _labelled_set(s):
    """The arguments of a bench on a labelled photo set (quality, learn)."""
    s.add_argument("dataset", help="one subfolder per class; with --composite, the folder holding the shared sets")
    s.add_argument("--composite", default=None, help="build an unbalanced set: mixfl, mix, flmulti or clmulti")
    s.add_argument("--composite-seed", type=int, default=0)
    s.add_argument("--model", default="clip")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    s.add_argument("--json", action="store_true")
    return s


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="speed and quality benchmarks").add_subparsers(dest="bench", metavar="BENCH")
    b.required = True
    s = _labelled_set(b.add_parser("quality", help="cluster a labelled set (one subfolder per class) and score it"))
    s.add_argument("--seeds", default="42", help="clustering seeds, e.g. 0-4 or 1,2,3 (the photos are embedded once)")
    s.add_argument("--no-baselines", action="store_true", help="skip HDBSCAN eom and k-means-told-k on the same space")
    s = _labelled_set(b.add_parser("learn", help="a simulated user places K photos per class by hand; re-cluster; score"))
    s.add_argument("--examples", type=int, default=5, help="photos placed by hand per class")
    s.add_argument("--seed", type=int, default=0, help="which photos the simulated user picks")
    s = _labelled_set(b.add_parser("stream", help="cluster half a labelled set, add the rest in steps; placement vs re-cluster"))
    s.add_argument("--steps", type=int, default=10, help="batches the second half arrives in")
    s.add_argument("--seed", type=int, default=0, help="which photos arrive first")
    s = b.add_parser("place", help="place NEW photos into a library of N, and refresh suggestions; timings")
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--new", type=int, default=1000)
    s.add_argument("--dim", type=int, default=512)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("index", help="decode / embed / index speed on synthetic camera-sized JPEGs")
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--size", type=size_arg, default=(4000, 3000))
    s.add_argument("--model", default="lite", help="lite, clip, clip:ARCH/TAG, or clip-random[:ARCH]: an open_clip "
                   "architecture with random weights (speed only; default MobileCLIP2-S0)")
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("reindex", help="time a second index of an unchanged folder of N small photos")
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("gui", help="time selection, edits and the map in the real window on N photos")
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("map", help="frame times of the map (dots, labels, zoomed-in thumbnails) at N photos")
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("edits", help="time the session's edits, undo and redo on a library of N photos")
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("duplicates", help="plant copies of real photos; precision/recall vs imagededup; 100k timing")
    s.add_argument("--n", type=int, default=60, help="originals (each gets one copy per transformation)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--peer-python", default=None, help="a Python with imagededup installed (or $PHOTOCLUST_PEER_PYTHON)")
    s.add_argument("--scale-n", type=int, default=100_000, help="stored embeddings to time the search on (0: skip)")
    s.add_argument("--scale-dim", type=int, default=512)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("search", help="text search and more-like-this query latency on N synthetic vectors")
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--dim", type=int, default=512)
    s.add_argument("--queries", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s = b.add_parser("cluster", help="clustering + map speed and memory on synthetic embeddings, beside the old path")
    s.add_argument("--n", type=int, default=20000)
    s.add_argument("--dim", type=int, default=512)
    s.add_argument("--no-old", action="store_true", help="skip the old path (two UMAP fits) in the same run")
    s.add_argument("--json", action="store_true")


def _seeds(text: str) -> list[int]:
    from photoclust_app.core.errors import PhotoclustError

    try:
        if "-" in text:
            a, b = text.split("-", 1)
            return list(range(int(a), int(b) + 1))
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise PhotoclustError(f"--seeds takes a range like 0-4 or a list like 1,2,3, not {text!r}.") from None


def cmd_bench(args) -> int:
    from photoclust_app.terminal_progress import TerminalProgress

    bar = TerminalProgress(unit="items")
    if args.bench == "quality":
        from photoclust_app.core.bench.quality_bench import bench_quality

        result = bench_quality(args.dataset, model=args.model, device=args.device, seeds=_seeds(args.seeds),
                               composite=args.composite, composite_seed=args.composite_seed,
                               baselines=not args.no_baselines, progress=bar)
    elif args.bench == "learn":
        from photoclust_app.core.bench.learn_bench import bench_learn
        from photoclust_app.core.errors import PhotoclustError

        if args.examples < 1:
            raise PhotoclustError("--examples must be at least 1.")
        result = bench_learn(args.dataset, model=args.model, device=args.device, examples=args.examples,
                             composite=args.composite, composite_seed=args.composite_seed, seed=args.seed,
                             progress=bar)
    elif args.bench == "stream":
        from photoclust_app.core.bench.stream_bench import bench_stream
        from photoclust_app.core.errors import PhotoclustError

        if args.steps < 1:
            raise PhotoclustError("--steps must be at least 1.")
        result = bench_stream(args.dataset, model=args.model, device=args.device, steps=args.steps,
                              composite=args.composite, composite_seed=args.composite_seed, seed=args.seed,
                              progress=bar)
    elif args.bench == "place":
        from photoclust_app.core.bench.place_bench import bench_place

        result = bench_place(n=args.n, new=args.new, dim=args.dim)
    elif args.bench == "index":
        from photoclust_app.core.bench.index_bench import bench_index

        result = bench_index(n=args.n, size=args.size, model=args.model, workers=args.workers,
                             batch_size=args.batch_size, progress=bar)
    elif args.bench == "gui":
        from photoclust_app.gui.bench_gui import bench_gui

        result = bench_gui(n=args.n)
    elif args.bench == "map":
        from photoclust_app.gui.bench_map import bench_map

        result = bench_map(n=args.n)
    elif args.bench == "edits":
        from photoclust_app.core.bench.edits_bench import bench_edits

        result = bench_edits(n=args.n, progress=bar)
    elif args.bench == "reindex":
        from photoclust_app.core.bench.index_bench import bench_reindex

        result = bench_reindex(n=args.n)
    elif args.bench == "duplicates":
        from photoclust_app.core.bench.duplicates import bench_duplicates, format_table

        result = bench_duplicates(args.n, seed=args.seed, peer_python=args.peer_python, scale_n=args.scale_n,
                                  scale_dim=args.scale_dim, progress=bar)
        bar.finish()
        print(json.dumps(result, indent=2, default=str) if args.json else format_table(result))
        return 0
    elif args.bench == "search":
        from photoclust_app.core.bench.search_bench import bench_search

        result = bench_search(n=args.n, dim=args.dim, queries=args.queries, progress=bar)
    else:
        from photoclust_app.core.bench.cluster_bench import bench_cluster

        result = bench_cluster(n=args.n, dim=args.dim, old=not args.no_old, progress=bar)
    bar.finish()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for key, value in result.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                print(f"{key:>22}:")
                _table(value)
            else:
                print(f"{key:>22}: {value:.4g}" if isinstance(value, float) else f"{key:>22}: {value}")
    return 0


def _table(rows: list[dict]) -> None:
    """Rows of figures (a bench's steps) as aligned columns."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[str(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.rjust(w) for k, w in zip(keys, widths)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths)))
