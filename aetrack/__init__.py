"""aetrack: multi-person pose tracking in video with associative embedding (Newell et al., NeurIPS 2017)."""
from aetrack import compat as _compat  # noqa: F401  (NumPy 2 shim for motmetrics; see compat.py)
from aetrack.errors import AetrackError

__version__ = "0.1.0"
__all__ = ["AetrackError", "__version__"]
