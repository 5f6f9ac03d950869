"""`aetrack predict IMAGES... --out results.json`: COCO keypoint results for still images."""
from __future__ import annotations

import argparse
import sys

from aetrack.cli.common import add_model_options, add_refine_options, make_refiner, refine_weights_path, run_config, \
    weights_path
from aetrack.errors import AetrackError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="detect people in images and write COCO keypoint results",
        description="Run the model on images (files or folders) and write COCO keypoint results "
                    "(image_id, category_id 1, keypoints, score). With --image-ids-from, image ids come from a "
                    "COCO file (matched by file name); with that option and no IMAGES, every image of the COCO "
                    "file is predicted, including video frames named '<video>#<frame>'.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--out", required=True, help="results JSON file to write")
    p.add_argument("--image-ids-from", metavar="COCO_JSON", help="COCO file giving each image's id")
    add_model_options(p)
    add_refine_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aetrack.eval.coco import poses_to_coco_results
    from aetrack.inference.images import coco_frames, coco_image_ids, list_images, read_image
    from aetrack.inference.predictor import Predictor
    from aetrack.io.json_atomic import write_json_atomic

    if not args.images and not args.image_ids_from:
        raise AetrackError("give images or folders to predict, or --image-ids-from COCO_JSON")
    refine_weights_path(args)
    config = run_config(args)
    predictor = Predictor.from_checkpoint(weights_path(args), args.device, config.inference)
    refiner = make_refiner(args, args.device, config.inference)
    if args.images:
        files = list_images(args.images)
        ids = coco_image_ids(args.image_ids_from)[0] if args.image_ids_from else {}
        def items():
            for n, path in enumerate(files):
                key = str(path) if str(path) in ids else path.name
                if ids and key not in ids:
                    raise AetrackError(f"{path.name}: not an image of {args.image_ids_from}")
                yield (ids[key] if ids else n), read_image(path)
        total = len(files)
    else:
        items = lambda: coco_frames(args.image_ids_from)  # noqa: E731
        total = len(coco_image_ids(args.image_ids_from)[1])
    results = []
    for image_id, image in tqdm(items(), total=total, unit="image", disable=args.quiet, file=sys.stderr):
        poses = predictor([image])[0]
        if refiner is not None:
            poses = refiner(image, poses)
        results.extend(poses_to_coco_results(poses, image_id))
    write_json_atomic(args.out, results)
    print(f"wrote {len(results)} people from {total} images to {args.out}", file=sys.stderr)
    return 0
