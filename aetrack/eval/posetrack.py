"""PoseTrack evaluation computed as the official evaluator poseval computes it, quirks included.

poseval (leonid-pishchulin/poseval, `evaluate -e -t`) gives, per joint, AP with PCKh@0.5 matching and MOTA, MOTP,
precision and recall from a motmetrics accumulator per joint; its totals are plain means over the joints whose
value is defined. Its quirks, reproduced here (see ../shared/fixtures/poseval_reference/README.md):
- a joint without ground truth has AP 0 when nothing predicts it, NaN (left out of the total) when something does;
- the last frame of every video is left out of the MOT metrics;
- a frame with no predicted (or no ground-truth) person feeds every joint's accumulator a made-up object and
  hypothesis that never match: one miss and one false positive per joint;
- MOTP sums the distances of all motmetrics events: the RAW ones too (every pair within the threshold, so an
  exact prediction of two nearby people still loses MOTP), and the TRANSFER/ASCEND/MIGRATE ones of a switch.
Added (not poseval): person-level IDF1, IDP, IDR and ID switches with motmetrics, where a predicted person matches
a ground-truth person when it has at least half of the person's annotated joints within 0.5 head sizes
(distance 1 - that fraction), over all frames of each video.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import motmetrics as mm
import numpy as np

from aetrack.eval.posetrack_io import NUM_POSETRACK_JOINTS, POSETRACK_JOINTS, FramePeople, VideoPair, load_video_pairs

PCKH_THRESHOLD = 0.5  # joint distance in head sizes (0.6 x head-box diagonal) up to which a joint is found
PERSON_MIN_PCKH = 0.5  # fraction of a person's joints to find for a person-level match
# poseval's joint groups (Head is head_top, neck, nose), in its printed order.
JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (14, 12, 13), "Shou": (8, 9), "Elb": (7, 10), "Wri": (6, 11), "Hip": (2, 3), "Knee": (1, 4),
    "Ankl": (0, 5),
}
MOT_COUNTS: tuple[str, ...] = ("num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections")
_PERSON_COUNTS: tuple[str, ...] = ("idtp", "idfp", "idfn", "num_switches", "num_objects")


@dataclass
class FrameMatch:
    """poseval's PCKh matching of one frame's predicted (Pr) and ground-truth (G) people.

    dist: (Pr, G, 15) joint distance in head sizes of the ground-truth person; inf where either joint is absent.
    match: (Pr, G, 15) bool, dist <= threshold.
    assigned: (Pr,) the ground-truth person each prediction is assigned to, -1 for none.
    """

    dist: np.ndarray
    match: np.ndarray
    assigned: np.ndarray


@dataclass
class PoseTrackResult:
    """poseval's metrics in percent, per joint (15,) in POSETRACK_JOINTS order, NaN where undefined.

    `counts` holds motmetrics' per-joint counts (MOT_COUNTS); `person` our person-level IDF1, IDP, IDR (percent),
    num_switches and num_objects. Totals (`total`) are means over the joints that are not NaN, as poseval's.
    """

    ap: np.ndarray
    ap_precision: np.ndarray
    ap_recall: np.ndarray
    mota: np.ndarray
    motp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    counts: dict[str, np.ndarray]
    person: dict[str, float | int]
    num_videos: int
    num_frames: int
    warnings: list[str] = field(default_factory=list)

    def total(self, metric: str) -> float:
        """poseval's total of a per-joint metric ('ap', 'mota', ...): the mean of its values that are not NaN."""
        values = getattr(self, metric)
        defined = values[~np.isnan(values)]
        return float(defined.mean()) if len(defined) else float("nan")

    def groups(self, metric: str) -> dict[str, float]:
        """poseval's joint-group means of a metric (NaN if any joint of the group is NaN), then Total."""
        values = getattr(self, metric)
        out = {name: float(values[list(joints)].mean()) for name, joints in JOINT_GROUPS.items()}
        return {**out, "Total": self.total(metric)}


def evaluate_posetrack(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, *,
                       allow_missing: bool = False) -> PoseTrackResult:
    """Score the predictions in `pred_dir` against the ground truth in `gt_dir` (one JSON per video, same names).

    Either PoseTrack layout (2017 `annolist`, 2018 `images`/`annotations`) on either side. A video without a
    prediction file is an error unless `allow_missing` (then it is scored as empty, with a warning).
    """
    pairs, warnings = load_video_pairs(gt_dir, pred_dir, allow_missing=allow_missing)
    result = evaluate_pairs(pairs)
    result.warnings = warnings + result.warnings
    return result


def evaluate_pairs(pairs: list[VideoPair]) -> PoseTrackResult:
    """poseval's AP and MOT metrics and our person-level identity metrics of cleaned videos."""
    matches = [[match_frame(g, p) for g, p in zip(pair.gt, pair.pred)] for pair in pairs]
    ap, ap_precision, ap_recall = _joint_ap(pairs, matches)
    counts, sum_dist = _joint_mot_counts(pairs, matches)
    mota, motp, precision, recall = mot_metrics(counts, sum_dist)
    short = [pair.name for pair in pairs if len(pair.gt) == 1]
    warnings = [f"{len(short)} video(s) with one labelled frame add nothing to MOTA (poseval leaves each video's "
                f"last frame out): {', '.join(short[:5])}{', ...' if len(short) > 5 else ''}"] if short else []
    return PoseTrackResult(ap, ap_precision, ap_recall, mota, motp, precision, recall, counts,
                           _person_metrics(pairs, matches), len(pairs), sum(len(p.gt) for p in pairs), warnings)


def match_frame(gt: FramePeople, pred: FramePeople, threshold: float = PCKH_THRESHOLD) -> FrameMatch:
    """Joint distances in head sizes, PCKh matches, and poseval's assignment of predicted to ground-truth people."""
    head = 0.6 * np.linalg.norm(gt.head_boxes[:, 2:] - gt.head_boxes[:, :2], axis=1)  # (G,)
    offsets = pred.keypoints[:, None, :, :2] - gt.keypoints[None, :, :, :2]  # (Pr, G, 15, 2)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero-size head box matches nothing, as in poseval
        dist = np.linalg.norm(offsets, axis=-1) / head[None, :, None]
    dist = np.where(pred.present[:, None] & gt.present[None], dist, np.inf)
    match = dist <= threshold
    return FrameMatch(dist, match, _assign_people(match, gt.present.sum(axis=1)))


def _assign_people(match: np.ndarray, joints_per_gt: np.ndarray) -> np.ndarray:
    """(Pr,) poseval's assignment: each prediction keeps only its best ground truth by PCK, each ground truth
    then takes its best remaining prediction (first on ties); a zero PCK assigns nothing."""
    num_pred, num_gt = match.shape[:2]
    assigned = np.full(num_pred, -1)
    if not num_pred or not num_gt:
        return assigned
    pck = match.sum(axis=2) / np.maximum(joints_per_gt, 1)[None]  # a person without joints has no matches
    best_gt = pck.argmax(axis=1)
    kept = np.zeros_like(pck)
    kept[np.arange(num_pred), best_gt] = pck[np.arange(num_pred), best_gt]
    best_pred = kept.argmax(axis=0)
    taken = kept.max(axis=0) > 0
    assigned[best_pred[taken]] = np.flatnonzero(taken)
    return assigned


# --- AP ------------------------------------------------------------------------------------------------------

def _joint_ap(pairs: list[VideoPair], matches: list[list[FrameMatch]]) -> tuple[np.ndarray, ...]:
    """Per-joint AP, final precision and recall (percent) over all frames of all videos, as poseval's."""
    scores, labels, present = [], [], []
    num_gt = np.zeros(NUM_POSETRACK_JOINTS)
    for pair, frame_matches in zip(pairs, matches):
        for gt, pred, fm in zip(pair.gt, pair.pred, frame_matches):
            num_gt += gt.present.sum(axis=0)
            labels.append(_true_positives(fm))
            scores.append(pred.keypoints[:, :, 2])
            present.append(pred.present)
    out = np.zeros((3, NUM_POSETRACK_JOINTS))
    for j in range(NUM_POSETRACK_JOINTS):
        # frame by frame, people in file order: the order poseval hands to its (unstable) sort
        s = np.concatenate([f[m[:, j], j] for f, m in zip(scores, present)]) if scores else np.zeros(0)
        lab = np.concatenate([f[m[:, j], j] for f, m in zip(labels, present)]) if scores else np.zeros(0, bool)
        out[:, j] = average_precision(s, lab, num_gt[j])
    return tuple(100.0 * out)


def _true_positives(fm: FrameMatch) -> np.ndarray:
    """(Pr, 15) a predicted joint is right when it matches the joint of the person it is assigned to."""
    num_pred, num_gt = fm.match.shape[:2]
    if not num_gt:
        return np.zeros((num_pred, NUM_POSETRACK_JOINTS), bool)
    return fm.match[np.arange(num_pred), np.maximum(fm.assigned, 0)] & (fm.assigned >= 0)[:, None]


def average_precision(scores: np.ndarray, labels: np.ndarray, num_gt: float) -> tuple[float, float, float]:
    """poseval's AP of one joint (VOC area under the interpolated precision-recall curve), with the precision
    and recall at the lowest score; fractions. (0, 0, 0) without predictions; AP and recall NaN without
    ground truth."""
    if not len(scores):
        return 0.0, 0.0, 0.0
    order = np.argsort(scores)[::-1]
    hits = np.cumsum(labels[order])
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = hits / float(num_gt)
    precision = hits / np.arange(1, len(hits) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.maximum.accumulate(np.concatenate([[0.0], precision, [0.0]])[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1  # NaN != NaN, so no ground truth gives AP NaN
    ap = np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps])
    return float(ap), float(precision[-1]), float(recall[-1])


# --- joint-level MOT (poseval) -------------------------------------------------------------------------------

def _joint_mot_counts(pairs: list[VideoPair], matches: list[list[FrameMatch]]) -> tuple[dict[str, np.ndarray],
                                                                                      np.ndarray]:
    """motmetrics' MOT_COUNTS per joint (15,) summed over videos, and the summed event distances (15,)."""
    metrics = mm.metrics.create()
    counts = {name: np.zeros(NUM_POSETRACK_JOINTS, np.int64) for name in MOT_COUNTS}
    sum_dist = np.zeros(NUM_POSETRACK_JOINTS)
    for pair, frame_matches in zip(pairs, matches):
        if len(pair.gt) < 2:
            continue  # poseval leaves out the last frame of a video (and fails on a video of one frame)
        accumulators = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_POSETRACK_JOINTS)]
        for gt, pred, fm in list(zip(pair.gt, pair.pred, frame_matches))[:-1]:
            for acc, (objects, hypotheses, dist) in zip(accumulators, _joint_updates(gt, pred, fm)):
                acc.update(objects, hypotheses, dist)
        for j, acc in enumerate(accumulators):
            values = metrics.compute(acc, metrics=list(MOT_COUNTS), return_dataframe=False, name="acc")
            for name in MOT_COUNTS:
                counts[name][j] += int(values[name])
            # all events, RAW ones included: poseval's MOTP counts every pair within the threshold
            total = acc.events["D"].sum()
            sum_dist[j] += 0.0 if np.isnan(total) else total
    return counts, sum_dist


def _joint_updates(gt: FramePeople, pred: FramePeople, fm: FrameMatch) -> list[tuple]:
    """Per joint: ground-truth track ids, predicted track ids, and their distances (NaN: may not pair)."""
    if not len(gt) or not len(pred):
        # poseval's stand-in for such a frame: an object and a hypothesis (both id 0) that never pair
        return [([0], [0], np.full((1, 1), np.nan))] * NUM_POSETRACK_JOINTS
    dist = np.where(fm.match, fm.dist, np.nan)
    updates = []
    for j in range(NUM_POSETRACK_JOINTS):
        g, p = np.flatnonzero(gt.present[:, j]), np.flatnonzero(pred.present[:, j])
        updates.append((gt.track_ids[g], pred.track_ids[p], dist[np.ix_(p, g, [j])][:, :, 0].T))
    return updates


def mot_metrics(counts: dict[str, np.ndarray], sum_dist: np.ndarray) -> tuple[np.ndarray, ...]:
    """poseval's MOTA, MOTP, precision and recall per joint (percent) from motmetrics' counts."""
    objects = np.where(counts["num_objects"] > 0, counts["num_objects"], np.nan)
    detections = counts["num_detections"].astype(np.float64)
    false_positives = counts["num_false_positives"]
    errors = counts["num_misses"] + counts["num_switches"] + false_positives
    with np.errstate(divide="ignore", invalid="ignore"):
        mota = 100.0 * (1.0 - errors / objects)
        motp = np.where(detections > 0, 100.0 * (1.0 - sum_dist / detections), 0.0)
        claimed = detections + false_positives
        precision = 100.0 * detections / np.where(claimed > 0, claimed, np.nan)
        recall = 100.0 * detections / objects
    return mota, motp, precision, recall


# --- person-level identity (ours) ----------------------------------------------------------------------------

def _person_metrics(pairs: list[VideoPair], matches: list[list[FrameMatch]]) -> dict[str, float | int]:
    """IDF1, IDP, IDR (percent) and ID switches of whole people over all frames, summed over videos."""
    metrics = mm.metrics.create()
    totals = dict.fromkeys(_PERSON_COUNTS, 0)
    for pair, frame_matches in zip(pairs, matches):
        if not pair.gt:
            continue
        acc = mm.MOTAccumulator(auto_id=True)
        for gt, pred, fm in zip(pair.gt, pair.pred, frame_matches):
            acc.update(*_person_update(gt, pred, fm))
        values = metrics.compute(acc, metrics=list(_PERSON_COUNTS), return_dataframe=False, name="acc")
        for name in _PERSON_COUNTS:
            totals[name] += int(values[name])
    tp, fp, fn = totals["idtp"], totals["idfp"], totals["idfn"]
    return {"IDF1": _percent(2 * tp, 2 * tp + fp + fn), "IDP": _percent(tp, tp + fp), "IDR": _percent(tp, tp + fn),
            "num_switches": totals["num_switches"], "num_objects": totals["num_objects"]}


def _person_update(gt: FramePeople, pred: FramePeople, fm: FrameMatch) -> tuple:
    """Track ids of the people with joints on both sides and their distance, 1 - fraction of the ground-truth
    person's joints found (NaN below PERSON_MIN_PCKH)."""
    joints_per_gt = gt.present.sum(axis=1)
    g, p = np.flatnonzero(joints_per_gt > 0), np.flatnonzero(pred.present.any(axis=1))
    pck = fm.match[np.ix_(p, g)].sum(axis=2) / joints_per_gt[g][None]
    dist = np.where(pck >= PERSON_MIN_PCKH, 1.0 - pck, np.nan)
    return gt.track_ids[g], pred.track_ids[p], dist.T


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else float("nan")


# --- reporting -----------------------------------------------------------------------------------------------

# (table label, JSON key, PoseTrackResult field) of the metrics shown per joint group
_ROWS = (("AP", "AP", "ap"), ("MOTA", "MOTA", "mota"), ("MOTP", "MOTP", "motp"), ("Prec", "precision", "precision"),
         ("Rec", "recall", "recall"))


def result_to_dict(result: PoseTrackResult) -> dict:
    """A JSON-ready summary: totals as poseval prints them (percent), groups, per-joint tables; NaN as None."""
    per_joint = {}
    for j, name in enumerate(POSETRACK_JOINTS):
        row = {"AP": result.ap[j], "AP_precision": result.ap_precision[j], "AP_recall": result.ap_recall[j],
               "MOTA": result.mota[j], "MOTP": result.motp[j], "precision": result.precision[j],
               "recall": result.recall[j]}
        per_joint[name] = {**{k: _json_float(v) for k, v in row.items()},
                           **{k: int(v[j]) for k, v in result.counts.items()}}
    groups = {key: result.groups(metric) for _, key, metric in _ROWS}
    person = {k: _json_float(v) if isinstance(v, float) else v for k, v in result.person.items()}
    return {
        "mAP": _json_float(result.total("ap")), "MOTA": _json_float(result.total("mota")),
        "MOTP": _json_float(result.total("motp")), "precision": _json_float(result.total("precision")),
        "recall": _json_float(result.total("recall")), "num_switches": int(result.counts["num_switches"].sum()),
        "IDF1": person["IDF1"], "AP_precision": _json_float(result.total("ap_precision")),
        "AP_recall": _json_float(result.total("ap_recall")), "person": person,
        "groups": {group: {key: _json_float(groups[key][group]) for _, key, _ in _ROWS}
                   for group in [*JOINT_GROUPS, "Total"]},
        "per_joint": per_joint, "units": "percent", "num_videos": result.num_videos, "num_frames": result.num_frames,
    }


def format_table(result: PoseTrackResult) -> str:
    """poseval's printout as an aligned text table (joint groups, then Total), plus switches and person IDF1."""
    columns = [*JOINT_GROUPS, "Total"]
    lines = [f"PoseTrack evaluation, poseval's metrics in percent: {result.num_videos} videos, "
             f"{result.num_frames} labelled frames",
             f"{'':6}" + "".join(f"{c:>7}" for c in columns)]
    for label, _, metric in _ROWS:
        groups = result.groups(metric)
        lines.append(f"{label:6}" + "".join(f"{groups[c]:7.1f}" for c in columns))
    counts = {k: int(v.sum()) for k, v in result.counts.items()}
    lines.append(f"joints: {counts['num_switches']} ID switches, {counts['num_misses']} misses, "
                 f"{counts['num_false_positives']} false positives, {counts['num_objects']} objects "
                 "(poseval leaves each video's last frame out)")
    p = result.person
    lines.append(f"people (matched by PCKh >= {PERSON_MIN_PCKH:g} of their joints): IDF1 {p['IDF1']:.1f}, "
                 f"IDP {p['IDP']:.1f}, IDR {p['IDR']:.1f}, {p['num_switches']} ID switches")
    return "\n".join(lines)


def _json_float(value: float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value
