"""The training losses, importable as `aetrack.losses` (they live in `aetrack.train.losses`)."""
from aetrack.train.losses import AELoss, grouping_loss, heatmap_loss, temporal_grouping_loss

__all__ = ["AELoss", "grouping_loss", "heatmap_loss", "temporal_grouping_loss"]
