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
    assert not (FLOWERS / ".photoclust").exists()  # the dataset folder is never written to
