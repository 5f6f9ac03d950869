"""Plots for looking inside a run: each person's tag at each joint (the paper's figure 3), track ids over time.

matplotlib is an optional dependency (`pip install 'aetrack[plot]'`); figures are drawn off-screen (Agg).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aetrack.errors import AetrackError
from aetrack.poses import Poses
from aetrack.skeleton import JOINTS

INSTALL_HINT = "plots need matplotlib: pip install 'aetrack[plot]'"


def pyplot() -> Any:
    """matplotlib.pyplot on the off-screen Agg backend; AetrackError saying how to install it when missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise AetrackError(INSTALL_HINT) from None
    return plt


def _colours(count: int) -> list[tuple[float, ...]]:
    """`count` distinct colours: tab10, then tab20 and evenly spaced hues for more people."""
    plt = pyplot()
    if count <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(count)]
    if count <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(count)]
    return [plt.get_cmap("hsv")(i / count) for i in range(count)]


def plot_tags(poses: Poses, out: str | Path, *, people: int = 10, title: str | None = None,
              size: tuple[int, int] = (1000, 450)) -> Path:
    """Each person's tag (y) at each joint (x), one colour per person; one panel per tag dimension.

    poses: the people of one image, with joint_tags (P, 17, D); the `people` highest-scoring are drawn, and
    only their found joints (score > 0). size: (width, height) of the PNG in pixels. Returns `out`.
    """
    plt = pyplot()
    order = np.argsort(-poses.scores, kind="stable")[:people]
    dims = poses.joint_tags.shape[2] if poses.joint_tags.ndim == 3 else 1
    dpi = 100
    fig, axes = plt.subplots(max(dims, 1), 1, figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, sharex=True,
                             squeeze=False)
    x = np.arange(len(JOINTS))
    for d, ax in enumerate(axes[:, 0]):
        for rank, (colour, p) in enumerate(zip(_colours(len(order)), order)):
            found = poses.keypoints[p, :, 2] > 0
            ax.plot(x[found], poses.joint_tags[p, found, d], "o", color=colour, markersize=6,
                    label=f"person {rank} (score {poses.scores[p]:.2f})")
        ax.set_ylabel("tag" if dims == 1 else f"tag {d}")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xticks(x, JOINTS, rotation=60, ha="right", fontsize=8)
    if len(order):
        axes[0, 0].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    else:
        axes[0, 0].text(0.5, 0.5, "no people found", ha="center", va="center", transform=axes[0, 0].transAxes)
    axes[0, 0].set_title(title or "tag of each joint, one colour per person")
    return _save(fig, out)


def track_spans(records: list[dict[str, Any]]) -> dict[int, list[tuple[int, int]]]:
    """Track id -> (first, last) frame of each run of consecutive frames it appears in, from JSONL records.

    Frames are consecutive when they follow each other among the records (frames a run skipped do not break
    a span); tentative tracks (id -1) are left out.
    """
    spans: dict[int, list[tuple[int, int]]] = {}
    previous: dict[int, int] = {}  # track id -> position of the record it was last seen in
    for position, record in enumerate(records):
        frame = record["frame"]
        for person in record["people"]:
            tid = int(person["track_id"])
            if tid <= 0:
                continue
            runs = spans.setdefault(tid, [])
            if previous.get(tid) == position - 1:
                runs[-1] = (runs[-1][0], frame)
            else:
                runs.append((frame, frame))
            previous[tid] = position
    return spans


def plot_tracks(records: list[dict[str, Any]], out: str | Path, *, title: str | None = None,
                size: tuple[int, int] = (1000, 500)) -> Path:
    """A timeline of a run's JSONL `records`: track id (y) over frames (x), a segment where the track is present.

    size: (width, height) of the PNG in pixels. Returns `out`.
    """
    from aetrack.viz.draw import track_colour

    plt = pyplot()
    dpi = 100
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    spans = track_spans(records)
    for tid, runs in sorted(spans.items()):
        b, g, r = track_colour(tid)
        for first, last in runs:
            ax.plot([first, last + 1], [tid, tid], color=(r / 255, g / 255, b / 255), linewidth=3,
                    solid_capstyle="butt")
    if records:
        ax.set_xlim(records[0]["frame"], records[-1]["frame"] + 1)
    if not spans:
        ax.text(0.5, 0.5, "no tracks", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("frame")
    ax.set_ylabel("track id")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title or f"{len(spans)} tracks over {len(records)} frames")
    return _save(fig, out)


def _save(fig: Any, out: str | Path) -> Path:
    """Write `fig` as a PNG of exactly its figure size (no tight bounding box) and free it."""
    out = Path(out)
    plt = pyplot()
    try:
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    except OSError as exc:
        raise AetrackError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return out
