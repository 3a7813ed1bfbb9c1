"""bench_gui runs end to end on a small library and returns a flat dict of figures (their
size is for people to read, not for tests to judge)."""
from photoclust_app.gui.bench_gui import bench_gui


def test_bench_gui_returns_flat_figures(qapp):
    out = bench_gui(n=600, repeats=2, startup=False)
    assert out["n"] == 600 and out["select_all_rows_count"] == 600
    for name in ("show_all_in_grid", "select_10k_rows", "select_all_rows", "map_pick_10k", "move_1k",
                 "undo_move_1k", "rename", "map_set_points_repaint", "grid_scroll_repaint"):
        assert out[f"{name}_median_ms"] <= out[f"{name}_max_ms"]
    assert all(isinstance(v, (int, float)) for v in out.values())
