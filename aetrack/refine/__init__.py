"""Single-person refinement (the paper's section 4): each person cropped, run through a top-down network, and
merged with the multi-person result."""
from aetrack.refine.boxes import box_to_center_scale, keypoint_boxes, person_boxes, regions, stray_joints
from aetrack.refine.crop import crop, crop_transform, crops
from aetrack.refine.decode import decode_crop, decode_crops, flip_back
from aetrack.refine.merge import merge_keypoints, merge_poses
from aetrack.refine.refiner import RefineConfig, Refiner

__all__ = ["box_to_center_scale", "keypoint_boxes", "person_boxes", "regions", "stray_joints", "crop", "crops",
           "crop_transform", "decode_crop", "decode_crops", "flip_back", "merge_keypoints", "merge_poses",
           "RefineConfig", "Refiner"]
