"""Tracking: people of successive frames linked into tracks by pose, motion (Kalman) and temporal embedding."""
from aetrack.track.config import TrackerConfig
from aetrack.track.tracker import Tracker
from aetrack.track.tracks import Tracks

__all__ = ["Tracker", "TrackerConfig", "Tracks"]
