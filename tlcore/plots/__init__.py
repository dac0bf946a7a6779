"""Figure builders for the dashboard: pure functions from core objects (reports, metric
rows, summaries) to plotly figures or image arrays, testable without a browser."""
from .data import class_counts_figure, class_thumbnails, freeze_map_figure
from .evaluation import before_after_figure, compare_curves_figure, confusion_figure, lessons_figure, per_class_rows
from .features import COLOUR_BY, GAP_NAMES, feature_map_figure, gap_figure, map_ranges, replay_figure, selection_summary
from .training import curve_figures, freeze_timeline_figure, group_curve_figure, seed_band, series, weights_figure

__all__ = ["class_counts_figure", "class_thumbnails", "freeze_map_figure", "before_after_figure",
           "compare_curves_figure", "confusion_figure", "lessons_figure", "per_class_rows", "curve_figures",
           "freeze_timeline_figure", "group_curve_figure", "seed_band", "series", "weights_figure", "COLOUR_BY",
           "GAP_NAMES", "feature_map_figure", "gap_figure", "map_ranges", "replay_figure", "selection_summary"]
