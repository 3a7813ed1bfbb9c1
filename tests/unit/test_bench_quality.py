"""The issue's acceptance check, run exactly as a user would: the real `bench quality` command
(decode, the offline `lite` embedder, the library, default clustering) on real labelled photos."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

FLOWERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "oxford_flowers12"


@pytest.mark.slow
@pytest.mark.shared_data
def test_bench_quality_on_flowers_meets_the_bar(tmp_path):
    if not FLOWERS.is_dir():
        pytest.skip(f"shared data not found at {FLOWERS}: the quality check did not run")
    out = subprocess.run(
        [sys.executable, "-m", "photoclust_app", "bench", "quality", str(FLOWERS), "--model", "lite", "--json"],
        capture_output=True, text=True, timeout=900, check=True)
    result = json.loads(out.stdout)
    print(f"\nbench quality (lite, flowers12): {json.dumps({k: result[k] for k in ('nmi', 'ari', 'noise_fraction', 'n_clusters', 'seconds')})}")
    assert result["n_photos"] == 960 and result["n_skipped"] == 0
    assert result["nmi"] >= 0.85
    assert result["noise_fraction"] <= 0.15
    assert 10 <= result["n_clusters"] <= 16
    assert result["classes_found"] >= 0.75
    assert not (FLOWERS / ".photoclust").exists()  # the dataset folder is never written to


@pytest.mark.slow
@pytest.mark.shared_data
def test_bench_quality_on_an_unbalanced_composite_beats_the_baselines():
    """A library's shape: 3 clothing classes of 300-600 photos beside 12 flower classes of
    10-40, plus 6 noise images. The default must reach what HDBSCAN eom (min size sqrt(n)) and
    k-means told the true k reach on the same reduced space in the same run, find most of the
    small classes, and keep the noise images out of the clusters."""
    root = FLOWERS.parent
    if not (root / "clothing10").is_dir() or not FLOWERS.is_dir():
        pytest.skip(f"shared data not found at {root}: the composite quality check did not run")
    out = subprocess.run(
        [sys.executable, "-m", "photoclust_app", "bench", "quality", str(root), "--composite", "mixfl",
         "--model", "lite", "--seeds", "0", "--json"], capture_output=True, text=True, timeout=1500, check=True)
    result = json.loads(out.stdout)
    base = result["runs"][0]["baselines"]
    print(f"\nbench quality (lite, mixfl): nmi {result['nmi']:.3f} found {result['classes_found']:.2f} "
          f"clusters {result['n_clusters']}/{result['n_classes']}; eom {base['eom_sqrt_n']['nmi']:.3f}, "
          f"k-means {base['kmeans_true_k']['nmi']:.3f}")
    assert result["n_classes"] == 15 and result["n_skipped"] == 0
    assert result["nmi"] >= base["eom_sqrt_n"]["nmi"]
    assert result["nmi"] >= base["kmeans_true_k"]["nmi"]
    assert result["classes_found"] >= 0.6  # small classes are their own clusters (0.1 found none)
    assert result["noise_fraction"] <= 0.05
    assert result["outliers_clustered"] <= 3  # of 6 noise images
