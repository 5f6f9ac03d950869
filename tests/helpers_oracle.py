"""An "oracle" predictor: the maps a perfect network would give for a generated video, rendered from its ground
truth, so tests can check everything after the convolutions (geometry, decoding, tracking, outputs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aetrack.config import Config
from aetrack.data.targets import render_heatmaps
from aetrack.inference.geometry import letterbox
from aetrack.inference.maps import Maps
from aetrack.inference.predictor import FrameMaps, Predictor
from aetrack.io.video import open_source


class OraclePredictor(Predictor):
    """Heatmaps at each ground-truth joint, one spatial tag per person (3 x track id) and, with
    `config.model.temporal_dim`, the same value as temporal tag. Frames are recognised by their pixels, so a
    resumed run that starts mid-video gets the right people."""

    def __init__(self, video: Path, coco: dict, config: Config) -> None:
        super().__init__(torch.nn.Identity(), config, "cpu")
        with open_source(video) as source:
            self.frame_of = {f.image.tobytes(): f.index for f in source}
        frame_of_image = {im["id"]: int(im["file_name"].rpartition("#")[2]) for im in coco["images"]}
        self.people: dict[int, list[dict]] = {}
        for a in coco["annotations"]:
            self.people.setdefault(frame_of_image[a["image_id"]], []).append(a)

    def maps(self, images: torch.Tensor) -> FrameMaps:
        n, h, w, _ = images.shape
        box = letterbox(h, w, self.config.model.input_size)
        mh, mw = box.map_size()
        heat = np.zeros((n, 17, mh, mw), np.float32)
        tags = np.zeros((n, 17, mh, mw, 1), np.float32)
        for i in range(n):
            for a in self.people.get(self.frame_of[images[i].numpy().tobytes()], []):
                kp = np.array(a["keypoints"], np.float32).reshape(1, 17, 3)
                kp[..., :2] = box.image_to_heatmap(kp[..., :2])
                person = render_heatmaps(kp, (mh, mw), sigma=1.0)
                heat[i] = np.maximum(heat[i], person)
                tags[i][person > 0.5] = a["track_id"] * 3.0
        tags_t = torch.from_numpy(tags)
        temporal = tags_t if self.config.model.temporal_dim else tags_t[..., :0]
        return FrameMaps(Maps(torch.from_numpy(heat), tags_t, temporal), box)
