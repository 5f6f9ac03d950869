"""Decoding heatmaps and tags into people: NMS and top-k, tag grouping, refinement.

    decode(heatmaps, tags, config, temporal)        one image -> Poses (heatmap pixels)
    decode_batch(heatmaps, tags, config, temporal)  a batch, NMS/top-k in torch on the maps' device
    parse_reference(det, tag, refine)               the authors' reference decoder, quirks included
    parse_mmpose(det, tag, adjust, refine)          mmpose 0.29's decoder
    tags_at / temporal_tags                         map values at keypoints (e.g. temporal tags)
"""
from aetrack.decode.decoder import decode, decode_batch, grouping_params, tags_at, temporal_tags
from aetrack.decode.grouping import MMPOSE, REFERENCE, GroupingParams
from aetrack.decode.reference import parse_mmpose, parse_reference

__all__ = ["GroupingParams", "MMPOSE", "REFERENCE", "decode", "decode_batch", "grouping_params",
           "parse_mmpose", "parse_reference", "tags_at", "temporal_tags"]
