"""`TrackerConfig` lives with the other settings in `aetrack.config` (the ``tracker`` section of a config file)."""
from aetrack.config import TrackerConfig

__all__ = ["TrackerConfig"]
