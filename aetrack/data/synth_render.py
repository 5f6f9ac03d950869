"""Synthetic scenes: backgrounds, the ground-plane camera and its motion, and drawing people into a frame.

People are drawn as anti-aliased capsules and convex hulls with OpenCV, far parts first. Every shape is also
drawn, without anti-aliasing, into an id buffer (person slot + 1 per pixel, 0 = background) so that the
generator can tell which joints a nearer person covers.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import cv2
import numpy as np

from aetrack.data.synth_body import (
    HANDS, HEAD_BOTTOM, HEAD_CENTER, HEAD_HALF, MOUTH, NECK, RING_POINTS, RING_START, SEAT_RINGS, SHIRT_RINGS,
    TOES, Appearance, Walker,
)
from aetrack.skeleton import JOINT_INDEX

Colour = tuple[float, float, float]
_SHIFT = 4                 # OpenCV drawing with 4 fractional bits: sub-pixel positions, smooth motion
_ONE = float(1 << _SHIFT)
_ARC = 7                   # points per capsule end
_ARC_COS = np.cos(np.linspace(-math.pi / 2, math.pi / 2, _ARC))
_ARC_SIN = np.sin(np.linspace(-math.pi / 2, math.pi / 2, _ARC))

_J = JOINT_INDEX
# (from, to, radius at from, radius at to (body heights), appearance part)
_CAPSULES: tuple[tuple[int, int, float, float, str], ...] = (
    (_J["left_shoulder"], _J["left_elbow"], 0.036, 0.028, "upper_arm"),
    (_J["left_elbow"], _J["left_wrist"], 0.027, 0.021, "lower_arm"),
    (_J["left_wrist"], HANDS[0], 0.021, 0.017, "skin"),
    (_J["right_shoulder"], _J["right_elbow"], 0.036, 0.028, "upper_arm"),
    (_J["right_elbow"], _J["right_wrist"], 0.027, 0.021, "lower_arm"),
    (_J["right_wrist"], HANDS[1], 0.021, 0.017, "skin"),
    (_J["left_hip"], _J["left_knee"], 0.058, 0.042, "thigh"),
    (_J["left_knee"], _J["left_ankle"], 0.040, 0.027, "shin"),
    (_J["left_ankle"], TOES[0], 0.024, 0.020, "shoes"),
    (_J["right_hip"], _J["right_knee"], 0.058, 0.042, "thigh"),
    (_J["right_knee"], _J["right_ankle"], 0.040, 0.027, "shin"),
    (_J["right_ankle"], TOES[1], 0.024, 0.020, "shoes"),
    (NECK, HEAD_BOTTOM, 0.030, 0.028, "skin"),
)
_CAP_FROM = np.array([c[0] for c in _CAPSULES])
_CAP_TO = np.array([c[1] for c in _CAPSULES])
_CAP_R = np.array([(c[2], c[3]) for c in _CAPSULES])
_CAP_PART = tuple(c[4] for c in _CAPSULES)
_NECK_CAPSULE = len(_CAPSULES) - 1
# drawing-order nudges (body heights): clothes over the neck, the shirt over the trousers' seat, limbs over
# the torso at equal depth, the head over everything at its depth
_BIAS_NECK, _BIAS_SEAT, _BIAS_SHIRT, _BIAS_HEAD = -0.03, -0.025, -0.015, 0.035


@dataclass
class Scene:
    """One video's world: a background canvas and a camera looking at a ground plane.

    background: (Hc, Wc, 3) uint8 canvas, larger than the frame when the camera moves; origin: canvas pixel
    (x, y) of the frame's top-left at zero camera offset; offsets: (F, 2) int camera offset per frame (image
    pixels); blur: (F, 2) motion blur length (pixels, 0 = none) and angle (radians) per frame. focal in pixels,
    horizon in image rows, camera_height and distance_range (where people may walk) in metres.
    """

    size: tuple[int, int]
    background: np.ndarray
    origin: tuple[int, int]
    offsets: np.ndarray
    blur: np.ndarray
    focal: float
    horizon: float
    camera_height: float
    distance_range: tuple[float, float]

    def frame_background(self, t: int) -> np.ndarray:
        """A writable copy of the background under the camera at frame t, (H, W, 3) uint8."""
        w, h = self.size
        x = self.origin[0] + int(self.offsets[t, 0])
        y = self.origin[1] + int(self.offsets[t, 1])
        return self.background[y:y + h, x:x + w].copy()

    def foot(self, x: float, distance: float, t: int) -> tuple[float, float]:
        """Image position (pixels) of the ground point x metres right of the axis, `distance` metres away."""
        ox, oy = self.offsets[t]
        return (self.size[0] / 2.0 + self.focal * x / distance - ox,
                self.horizon + self.focal * self.camera_height / distance - oy)

    def x_at(self, column: float, distance: float, t: int) -> float:
        """The lateral position (metres) that appears at image column `column` at `distance`."""
        return (column + self.offsets[t, 0] - self.size[0] / 2.0) * distance / self.focal


@dataclass
class PersonView:
    """A person projected into one frame.

    xy: (N, 2) image pixels of every body point; depth: (N,) metres towards the camera (body-relative);
    px: pixels per body height; height: body height in metres; facing: the head's yaw (radians, 0 = towards
    the camera); capsules: (K, 2A, 2) limb polygons (pixels) with capsule_depth (K,); shirt, seat: convex
    hulls (n, 2); head: ellipse (cx, cy, ax, ay) pixels; extent: (x1, y1, x2, y2) of everything drawn, not
    clipped to the frame.
    """

    xy: np.ndarray
    depth: np.ndarray
    px: float
    height: float
    facing: float
    capsules: np.ndarray
    capsule_depth: np.ndarray
    shirt: np.ndarray
    seat: np.ndarray
    head: tuple[float, float, float, float]
    extent: tuple[float, float, float, float]


def _capsule_polygons(p0: np.ndarray, p1: np.ndarray, r0: np.ndarray, r1: np.ndarray) -> np.ndarray:
    """Tapered capsules as convex polygons (K, 2 * _ARC, 2) from end points (K, 2) and end radii (K,)."""
    d = p1 - p0
    length = np.linalg.norm(d, axis=1, keepdims=True)
    u = np.where(length > 1e-6, d / np.maximum(length, 1e-6), np.array([0.0, 1.0]))
    n = np.stack([-u[:, 1], u[:, 0]], 1)
    # unit offsets of a half circle around the far end; the near end's half circle is its negation
    arc = _ARC_COS[None, :, None] * u[:, None] + _ARC_SIN[None, :, None] * n[:, None]
    end1 = p1[:, None] + r1[:, None, None] * arc
    end0 = p0[:, None] - r0[:, None, None] * arc
    return np.concatenate([end1, end0], 1)


def view_person(scene: Scene, walker: Walker, t: int) -> PersonView:
    """Project the walker's current pose into frame t."""
    points = walker.points()
    scale = scene.focal / walker.distance
    fx, fy = scene.foot(walker.x, walker.distance, t)
    c, s = math.cos(walker.yaw), math.sin(walker.yaw)
    xy = np.stack([fx + scale * (points[:, 0] * c + points[:, 2] * s), fy - scale * points[:, 1]], 1)
    depth = -points[:, 0] * s + points[:, 2] * c
    build = walker.build
    px = scale * build.height
    radii = np.maximum(_CAP_R * px * build.girth, 0.8)   # never thinner than a pixel: joints stay on the body
    capsules = _capsule_polygons(xy[_CAP_FROM], xy[_CAP_TO], radii[:, 0], radii[:, 1])
    capsule_depth = 0.5 * (depth[_CAP_FROM] + depth[_CAP_TO])
    capsule_depth[_NECK_CAPSULE] += _BIAS_NECK * build.height
    shirt = _hull(xy[RING_START + SHIRT_RINGS[0] * RING_POINTS:RING_START + SHIRT_RINGS[1] * RING_POINTS])
    seat = _hull(xy[RING_START + SEAT_RINGS[0] * RING_POINTS:RING_START + SEAT_RINGS[1] * RING_POINTS])
    facing = walker.yaw + walker.head_yaw
    hx, hy, hz = (v * px * build.head for v in HEAD_HALF)
    ax = math.hypot(hx * math.cos(facing), hz * math.sin(facing))
    head = (float(xy[HEAD_CENTER, 0]), float(xy[HEAD_CENTER, 1]), ax, hy)
    lo = np.minimum(capsules.reshape(-1, 2).min(0), [head[0] - ax, head[1] - 1.25 * hy])
    hi = np.maximum(capsules.reshape(-1, 2).max(0), [head[0] + ax, head[1] + hy])
    lo, hi = np.minimum(lo, shirt.min(0)), np.maximum(hi, shirt.max(0))
    return PersonView(xy=xy, depth=depth, px=px, height=build.height, facing=facing, capsules=capsules,
                      capsule_depth=capsule_depth, shirt=shirt, seat=seat, head=head,
                      extent=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))


def _hull(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> OpenCV's fixed-point int32 polygon."""
    return np.round(points * _ONE).astype(np.int32)


def _shade(colour: Colour, factor: float) -> Colour:
    return (min(colour[0] * factor, 255.0), min(colour[1] * factor, 255.0), min(colour[2] * factor, 255.0))


def _fill(image: np.ndarray, ids: np.ndarray, label: int, poly: np.ndarray, colour: Colour) -> None:
    """A filled convex polygon in the image (anti-aliased, darker outline) and in the id buffer."""
    p = _fixed(poly)
    cv2.fillConvexPoly(image, p, colour, cv2.LINE_AA, _SHIFT)
    # the outline separates overlapping parts of one colour (an arm over its own sleeve-coloured torso)
    cv2.polylines(image, [p], True, _shade(colour, 0.55), 1, cv2.LINE_AA, _SHIFT)
    cv2.fillConvexPoly(ids, p, label, cv2.LINE_8, _SHIFT)


def _fill_textured(image: np.ndarray, ids: np.ndarray, label: int, poly: np.ndarray, texture: np.ndarray,
                   top: np.ndarray, bottom: np.ndarray, px: float, colour: Colour) -> None:
    """Fill a polygon with `texture` fixed to the torso: it moves, leans and scales with the body."""
    h, w = image.shape[:2]
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    down = bottom - top
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    right = np.array([down[1], -down[0]])
    k = texture.shape[0] / (0.3 * px)   # the tile spans 0.3 body heights
    a = k * np.stack([right, down])
    m = np.concatenate([a, (a @ (np.array([x0, y0]) - top) + [texture.shape[1] / 2.0, 0.0])[:, None]], 1)
    warped = cv2.warpAffine(texture, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    p = _fixed(poly - [x0, y0])
    cv2.fillConvexPoly(mask, p, 1, cv2.LINE_8, _SHIFT)
    np.copyto(image[y0:y1, x0:x1], warped, where=mask[..., None].astype(bool))
    cv2.polylines(image, [_fixed(poly)], True, _shade(colour, 0.55), 1, cv2.LINE_AA, _SHIFT)
    cv2.fillConvexPoly(ids, _fixed(poly), label, cv2.LINE_8, _SHIFT)


def _ellipse(image: np.ndarray, centre: tuple[float, float], axes: tuple[float, float], colour: Colour,
             start: float = 0.0, end: float = 360.0, line: int = cv2.LINE_AA) -> None:
    c = (int(round(centre[0] * _ONE)), int(round(centre[1] * _ONE)))
    a = (max(int(round(axes[0] * _ONE)), 1), max(int(round(axes[1] * _ONE)), 1))
    cv2.ellipse(image, c, a, 0.0, start, end, colour, -1, line, _SHIFT)


# face points and the smallest depth (body heights, towards the camera, relative to the head centre) at
# which each faces the camera; deeper ones are hidden by the person's own head
FACE_POINTS = (_J["nose"], _J["left_eye"], _J["right_eye"], _J["left_ear"], _J["right_ear"])
_FACE_MIN_DEPTH = np.array([0.0, 0.005, 0.005, -0.025, -0.025])


def face_visible(view: PersonView) -> np.ndarray:
    """(5,) bool: nose, left eye, right eye, left ear, right ear turned towards the camera."""
    rel = view.depth[list(FACE_POINTS)] - view.depth[HEAD_CENTER]
    return rel > _FACE_MIN_DEPTH * view.height


def draw_person(image: np.ndarray, ids: np.ndarray, label: int, view: PersonView, look: Appearance) -> None:
    """Draw one person into `image` (H, W, 3) uint8 and mark its pixels `label` in `ids` (H, W) uint8."""
    h = view.height
    torso = float(view.depth[RING_START:RING_START + 6 * RING_POINTS].mean())
    head = float(view.depth[HEAD_CENTER])
    parts: list[tuple[float, int, int]] = [(float(d), 0, k) for k, d in enumerate(view.capsule_depth)]
    parts += [(torso + _BIAS_SEAT * h, 1, 0), (torso + _BIAS_SHIRT * h, 2, 0), (head + _BIAS_HEAD * h, 3, 0)]
    if look.long_hair and look.hair is not None:
        parts.append((head - 0.04 * h * math.cos(view.facing), 4, 0))
    parts.sort()
    for depth, kind, k in parts:
        shade = min(max(0.88 + depth / h, 0.72), 1.06)   # the near side lighter: a left/right cue
        if kind == 0:
            colour = getattr(look, _CAP_PART[k])
            _fill(image, ids, label, view.capsules[k], _shade(colour, shade))
        elif kind == 1:
            _fill(image, ids, label, view.seat, _shade(look.thigh, shade))
        elif kind == 2 and look.texture is not None:
            hips = 0.5 * (view.xy[_J["left_hip"]] + view.xy[_J["right_hip"]])
            _fill_textured(image, ids, label, view.shirt, look.texture, view.xy[NECK], hips, view.px, look.shirt)
        elif kind == 2:
            _fill(image, ids, label, view.shirt, _shade(look.shirt, shade))
        elif kind == 3:
            _draw_head(image, ids, label, view, look)
        else:
            _draw_long_hair(image, ids, label, view, look)


def _draw_long_hair(image: np.ndarray, ids: np.ndarray, label: int, view: PersonView, look: Appearance) -> None:
    """Hair falling to the shoulders, behind the head (over the back when facing away)."""
    cx, cy, ax, ay = view.head
    back = -math.sin(view.facing) * 0.35 * ax
    p0 = np.array([[cx + back, cy]])
    p1 = np.array([[cx + 1.6 * back, cy + 2.1 * ay]])
    poly = _capsule_polygons(p0, p1, np.array([0.95 * ax]), np.array([0.8 * ax]))[0]
    _fill(image, ids, label, poly, look.hair)  # type: ignore[arg-type]


def _draw_head(image: np.ndarray, ids: np.ndarray, label: int, view: PersonView, look: Appearance) -> None:
    """Head ellipse, hair, ears and the face features that point towards the camera."""
    cx, cy, ax, ay = view.head
    skin = look.skin
    _ellipse(image, (cx, cy), (ax, ay), skin)
    _ellipse(ids, (cx, cy), (ax, ay), label, line=cv2.LINE_8)
    toward, side = math.cos(view.facing), math.sin(view.facing)
    if look.hair is not None:
        if toward < -0.5:   # seen from behind: hair covers the head
            centre, axes, arc = (cx, cy - 0.1 * ay), (1.04 * ax, 0.98 * ay), (0.0, 360.0)
        else:   # a cap on the top and the back of the head; the back is opposite the facing side
            mid, half = 270.0 - 60.0 * side, 90.0 + 70.0 * max(0.0, -toward)
            centre, axes, arc = (cx, cy - 0.3 * ay), (1.04 * ax, 0.92 * ay), (mid - half, mid + half)
        _ellipse(image, centre, axes, look.hair, *arc)
        _ellipse(ids, centre, axes, label, *arc, line=cv2.LINE_8)
    unit = view.px   # pixels per body height
    visible = face_visible(view)
    points = [(float(view.xy[j, 0]), float(view.xy[j, 1])) for j in FACE_POINTS]
    for k in (3, 4):   # ears
        if visible[k]:
            _ellipse(image, points[k], (0.011 * unit, 0.02 * unit), _shade(skin, 0.75))
            _ellipse(ids, points[k], (0.011 * unit, 0.02 * unit), label, line=cv2.LINE_8)
    for k in (1, 2):   # eyes: white, pupil looking the way the head faces
        if visible[k]:
            _ellipse(image, points[k], (0.011 * unit, 0.008 * unit), (235.0, 235.0, 235.0))
            pupil = (points[k][0] + 0.004 * unit * side, points[k][1])
            _ellipse(image, pupil, (0.0065 * unit, 0.0065 * unit), (30.0, 25.0, 20.0))
    if visible[0]:
        _ellipse(image, points[0], (0.011 * unit, 0.012 * unit), _shade(skin, 0.68))
        _ellipse(ids, points[0], (0.011 * unit, 0.012 * unit), label, line=cv2.LINE_8)
    if view.depth[MOUTH] - view.depth[HEAD_CENTER] > 0.01 * view.height:
        m = (float(view.xy[MOUTH, 0]), float(view.xy[MOUTH, 1]))
        _ellipse(image, m, (0.016 * unit * max(abs(toward), 0.4), 0.005 * unit), (60.0, 50.0, 150.0))


def sample_scene(rng: np.random.Generator, size: tuple[int, int], frames: int, fps: float,
                 camera_motion: bool = False, blur: bool = False) -> Scene:
    """A random camera (focal length, height, horizon), background, camera path and blur for one video.

    People of 1.75 m appear 60-300 pixels tall at 360 rows (scaled with the frame height); the nearest are
    kept with their feet about at the bottom edge.
    """
    w, h = size
    rows = h / 360.0
    focal = w * float(rng.uniform(0.8, 1.1))
    horizon = h * float(rng.uniform(0.2, 0.5))
    camera_height = float(rng.uniform(1.0, 1.8))
    far = focal * 1.75 / (60.0 * rows)
    near = max(focal * 1.75 / (300.0 * rows), focal * camera_height / (1.08 * h - horizon))
    near = min(near, 0.6 * far)
    offsets = _camera_path(rng, frames, fps, size) if camera_motion else np.zeros((frames, 2), np.int64)
    lo, hi = offsets.min(0), offsets.max(0)
    canvas = (w + int(hi[0] - lo[0]), h + int(hi[1] - lo[1]))
    origin = (int(-lo[0]), int(-lo[1]))
    background = make_background(rng, canvas, horizon + origin[1], origin[0] + w / 2.0)
    blur_path = _blur_path(rng, offsets, rows) if blur else np.zeros((frames, 2))
    return Scene(size=(w, h), background=background, origin=origin, offsets=offsets, blur=blur_path,
                 focal=focal, horizon=horizon, camera_height=camera_height, distance_range=(near, far))


def _camera_path(rng: np.random.Generator, frames: int, fps: float, size: tuple[int, int]) -> np.ndarray:
    """(F, 2) int camera offsets: a pan (steady, or easing in and out) plus a small hand-held shake."""
    w, h = size
    t = np.arange(frames) / fps
    pan = rng.uniform(-1.0, 1.0, 2) * np.array([0.1 * w, 0.02 * h])   # pixels per second
    duration = max(float(t[-1]), 1e-6)
    if rng.random() < 0.5:
        path = pan[None] * t[:, None]
    else:
        ease = duration / 2.0 * (1.0 - np.cos(math.pi * t / duration))
        path = pan[None] * ease[:, None]
    amplitude = float(rng.uniform(0.0, 3.5)) * h / 360.0
    freq = rng.uniform(0.7, 6.0, (3, 2))
    phase = rng.uniform(0.0, 2.0 * math.pi, (3, 2))
    shake = amplitude / 3.0 * np.sin(2.0 * math.pi * freq[None] * t[:, None, None] + phase[None]).sum(1)
    return np.round(path + shake).astype(np.int64)


def _blur_path(rng: np.random.Generator, offsets: np.ndarray, rows: float) -> np.ndarray:
    """(F, 2) blur length (pixels) and angle per frame: along the camera motion, or a hand-shake direction."""
    frames = len(offsets)
    velocity = np.diff(offsets.astype(float), axis=0, prepend=offsets[:1].astype(float))
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    length = float(rng.uniform(1.0, 5.0)) * rows * rng.uniform(0.4, 1.4, frames) + speed
    angle = np.where(speed > 0.5, np.arctan2(velocity[:, 1], velocity[:, 0]),
                     float(rng.uniform(0.0, math.pi)) + rng.normal(0.0, 0.15, frames))
    return np.stack([length, angle], 1)


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Blur (H, W, 3) uint8 along a line of `length` pixels at `angle` radians (unchanged below 1.5 px)."""
    if length < 1.5:
        return image
    k = int(math.ceil(length)) | 1
    kernel = np.zeros((k, k), np.float32)
    c, r = (k - 1) / 2.0, (length - 1.0) / 2.0
    dx, dy = r * math.cos(angle), r * math.sin(angle)
    cv2.line(kernel, (round((c - dx) * _ONE), round((c - dy) * _ONE)), (round((c + dx) * _ONE), round((c + dy) * _ONE)),
             1.0, 1, cv2.LINE_AA, _SHIFT)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _random_colour(rng: np.random.Generator, lo: float = 20.0, hi: float = 235.0) -> Colour:
    """A BGR colour with brightness in [lo, hi]; mostly muted, as walls, skies and floors are."""
    v = float(rng.uniform(lo, hi))
    s = float(rng.uniform(0.0, 0.9) ** 1.5)
    r, g, b = colorsys.hsv_to_rgb(float(rng.random()), s, 1.0)
    return (v * b, v * g, v * r)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _gradient(top: Colour, bottom: Colour, rows: int) -> np.ndarray:
    """(rows, 3) float colours from `top` to `bottom`."""
    t = np.linspace(0.0, 1.0, max(rows, 1))[:, None]
    return np.asarray(top)[None] * (1.0 - t) + np.asarray(bottom)[None] * t


def make_background(rng: np.random.Generator, size: tuple[int, int], horizon: float, vanish_x: float) -> np.ndarray:
    """A random background (H, W, 3) uint8: street, indoor, park or textured noise, with distractor shapes.

    horizon and vanish_x (canvas pixels) place the ground plane's vanishing point, so that ground lines
    converge where the people's ground plane does.
    """
    w, h = size
    style = int(rng.choice(4, p=[0.35, 0.25, 0.2, 0.2]))
    split = int(np.clip(horizon if style != 1 else horizon + rng.uniform(0.0, 0.15) * h, 1, h - 1))
    # colours and smooth texture at half resolution (they have no fine detail), then upsampled: fast
    hh, hw, half = h // 2 + 1, w // 2 + 1, split // 2
    column = np.concatenate([_gradient(_random_colour(rng), _random_colour(rng), half),
                             _gradient(_random_colour(rng, 30, 200), _random_colour(rng, 30, 200), hh - half)])
    canvas = np.empty((hh, hw, 3), np.float32)
    canvas[:] = column[:, None].astype(np.float32)
    cells = int(rng.integers(6, 24))
    # mostly brightness, a little colour: real surfaces vary in shade more than in hue
    small = rng.uniform(-1.0, 1.0, (hh // cells + 2, hw // cells + 2, 3)).astype(np.float32)
    small = small[..., :1] + float(rng.uniform(0.1, 0.5)) * small
    canvas += cv2.resize(small, (hw, hh), interpolation=cv2.INTER_CUBIC) * float(
        rng.uniform(40, 110) if style == 3 else rng.uniform(5, 30))
    image = cv2.resize(np.clip(canvas, 0, 255).astype(np.uint8), (2 * hw, 2 * hh),
                       interpolation=cv2.INTER_LINEAR)[:h, :w]
    grain = rng.normal(0.0, float(rng.uniform(2.0, 9.0)), (64, 64, 1))
    reps = (h // 64 + 1, w // 64 + 1, 3)
    image = cv2.add(image, np.tile(np.clip(grain, 0, 255).astype(np.uint8), reps)[:h, :w])
    image = cv2.subtract(image, np.tile(np.clip(-grain, 0, 255).astype(np.uint8), reps)[:h, :w])
    if style == 0:
        _street(rng, image, split, vanish_x)
    elif style == 1:
        _indoor(rng, image, split, vanish_x)
    elif style == 2:
        _park(rng, image, split, vanish_x)
    else:
        _blobs(rng, image, int(rng.integers(10, 30)))
    _blobs(rng, image, int(rng.integers(2, 10)))
    return image


def _ground_lines(rng: np.random.Generator, image: np.ndarray, horizon: int, vanish_x: float, colour: Colour) -> None:
    """Lines on the ground converging to the vanishing point, and cross lines closer together far away."""
    h, w = image.shape[:2]
    spread = float(rng.uniform(0.2, 1.2)) * w
    for k in range(-6, 7):
        if rng.random() < 0.5:
            x = vanish_x + k * spread / 3.0
            cv2.line(image, (int(vanish_x), horizon), (int(x), h - 1), colour, int(rng.integers(1, 3)), cv2.LINE_AA)
    if rng.random() < 0.6:
        for d in np.arange(2.0, 20.0, float(rng.uniform(1.0, 3.0))):
            y = int(horizon + (h - horizon) * 1.5 / d)
            if horizon < y < h:
                cv2.line(image, (0, y), (w - 1, y), colour, 1, cv2.LINE_AA)


def _street(rng: np.random.Generator, image: np.ndarray, horizon: int, vanish_x: float) -> None:
    """Buildings with windows standing on the horizon, a kerb and road markings."""
    h, w = image.shape[:2]
    x = int(-rng.integers(0, 60))
    while x < w:
        bw = int(rng.uniform(0.06, 0.3) * w)
        top = int(horizon - rng.uniform(0.1, 1.0) * horizon)
        colour = _random_colour(rng, 40, 220)
        base = horizon + int(rng.integers(0, 6))
        cv2.rectangle(image, (x, top), (x + bw, base), colour, -1, cv2.LINE_AA)
        if rng.random() < 0.75:
            ww, wh = int(rng.integers(4, 14)), int(rng.integers(5, 16))
            gap = int(rng.integers(4, 12))
            glass = _random_colour(rng, 20, 120) if rng.random() < 0.6 else _random_colour(rng, 150, 250)
            for wy in range(top + gap, base - wh - gap, wh + gap):
                for wx in range(x + gap, x + bw - ww - gap, ww + gap):
                    cv2.rectangle(image, (wx, wy), (wx + ww, wy + wh), glass, -1)
        x += bw + int(rng.integers(0, 20))
    kerb = int(horizon + rng.uniform(0.05, 0.3) * (h - horizon))
    cv2.rectangle(image, (0, horizon), (w - 1, kerb), _random_colour(rng, 90, 200), -1)
    _ground_lines(rng, image, kerb, vanish_x, _random_colour(rng, 150, 250))


def _indoor(rng: np.random.Generator, image: np.ndarray, floor: int, vanish_x: float) -> None:
    """Doors, windows and posters on a wall, a skirting board and floor tiles."""
    h, w = image.shape[:2]
    for _ in range(int(rng.integers(2, 9))):
        rw, rh = int(rng.uniform(0.04, 0.2) * w), int(rng.uniform(0.1, 0.8) * floor)
        x0 = int(rng.integers(-rw // 2, w))
        y0 = int(floor - rh - (rng.integers(0, max(floor - rh, 1)) if rng.random() < 0.5 else 0))
        cv2.rectangle(image, (x0, y0), (x0 + rw, y0 + rh), _random_colour(rng), -1, cv2.LINE_AA)
        cv2.rectangle(image, (x0, y0), (x0 + rw, y0 + rh), _random_colour(rng, 0, 80), int(rng.integers(1, 4)))
    cv2.rectangle(image, (0, floor - int(rng.integers(2, 8))), (w - 1, floor), _random_colour(rng, 20, 120), -1)
    _ground_lines(rng, image, floor, vanish_x, _random_colour(rng, 10, 120))


def _park(rng: np.random.Generator, image: np.ndarray, horizon: int, vanish_x: float) -> None:
    """A tree line on the horizon, some trees and bushes, and a path."""
    h, w = image.shape[:2]
    green = (float(rng.uniform(20, 70)), float(rng.uniform(80, 160)), float(rng.uniform(30, 90)))
    for _ in range(int(w / 25)):
        x = int(rng.integers(0, w))
        r = int(rng.integers(8, 40))
        cv2.circle(image, (x, horizon - r // 3), r, _mix(green, _random_colour(rng), 0.25), -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(1, 6))):
        x, base = int(rng.integers(0, w)), int(horizon + rng.uniform(0.0, 0.3) * (h - horizon))
        trunk = int(rng.integers(4, 14))
        top = int(base - rng.uniform(0.3, 1.0) * base)
        cv2.rectangle(image, (x - trunk, top), (x + trunk, base), (30.0, 60.0, 90.0), -1, cv2.LINE_AA)
        cv2.circle(image, (x, top), int(rng.integers(20, 70)), _mix(green, _random_colour(rng), 0.3), -1, cv2.LINE_AA)
    width = float(rng.uniform(0.2, 0.8)) * w
    path = np.array([[vanish_x - 2, horizon], [vanish_x + 2, horizon],
                     [vanish_x + width, h - 1], [vanish_x - width, h - 1]], np.int32)
    cv2.fillConvexPoly(image, path, _random_colour(rng, 100, 220), cv2.LINE_AA)


def _blobs(rng: np.random.Generator, image: np.ndarray, count: int) -> None:
    """Distractor shapes: circles, ellipses, boxes, poles and bars in random (sometimes skin-like) colours."""
    h, w = image.shape[:2]
    for _ in range(count):
        kind = int(rng.integers(5))
        colour = _random_colour(rng) if rng.random() < 0.8 else (
            float(rng.uniform(60, 170)), float(rng.uniform(90, 200)), float(rng.uniform(140, 235)))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.uniform(0.01, 0.12) * h) + 2
        if kind == 0:
            cv2.circle(image, (x, y), s, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(image, (x, y), (s, int(s * rng.uniform(0.3, 1.0)) + 1), float(rng.uniform(0, 180)),
                        0, 360, colour, -1, cv2.LINE_AA)
        elif kind == 2:
            cv2.rectangle(image, (x, y), (x + s, y + int(s * rng.uniform(0.5, 2.0))), colour, -1, cv2.LINE_AA)
        elif kind == 3:   # a pole, like a lamp post or sign
            cv2.line(image, (x, y), (x, min(h - 1, y + 4 * s)), colour, int(rng.integers(2, 7)), cv2.LINE_AA)
        else:
            angle = rng.uniform(0, math.pi)
            dx, dy = int(2 * s * math.cos(angle)), int(2 * s * math.sin(angle))
            cv2.line(image, (x - dx, y - dy), (x + dx, y + dy), colour, int(rng.integers(2, 9)), cv2.LINE_AA)
