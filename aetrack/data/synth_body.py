"""Synthetic people: body proportions, appearance, and the walking, turning and arm motion of one person.

A body lives in its own frame, in metres: x to the person's left, y up from the ground, z forward (the way
the person faces). `Walker` moves a person over the ground plane (x lateral, distance from the camera) and
`body_points` gives the 3D points of the current pose; `synth_render` turns them into pixels.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

import numpy as np

from aetrack.skeleton import JOINT_INDEX

# Points after the 17 COCO joints in the array `body_points` returns.
HEAD_TOP, HEAD_BOTTOM, HEAD_CENTER, NECK, MOUTH = 17, 18, 19, 20, 21
TOES = (22, 23)    # left, right
HANDS = (24, 25)   # left, right
RING_START = 26    # torso cross-sections, RING_POINTS each, top to bottom
RING_POINTS = 10
# Torso cross-sections as (height, half width, half depth), in body heights: neck, chest, waist, shirt hem,
# hips, crotch. The shirt spans rings 0-3 and the trousers' seat rings 3-5.
RINGS: tuple[tuple[float, float, float], ...] = (
    (0.848, 0.060, 0.045), (0.805, 0.122, 0.060), (0.650, 0.100, 0.056),
    (0.575, 0.106, 0.058), (0.520, 0.110, 0.062), (0.465, 0.080, 0.055),
)
SHIRT_RINGS = (0, 4)
SEAT_RINGS = (3, 6)
NUM_POINTS = RING_START + RING_POINTS * len(RINGS)

HEAD_HALF = (0.052, 0.066, 0.062)   # head ellipsoid half width, height, depth in body heights
HIP_HEIGHT, ANKLE_HEIGHT = 0.53, 0.04
THIGH, SHIN, UPPER_ARM, FOREARM = 0.245, 0.245, 0.172, 0.150

_FACE = [JOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
# face points in the head frame (relative to the head centre), body heights
_FACE_OFFSETS = np.array([
    (0.0, -0.005, 0.058), (0.021, 0.013, 0.046), (-0.021, 0.013, 0.046), (0.047, 0.0, -0.004),
    (-0.047, 0.0, -0.004),
])
_HEAD_CENTER_Y = 0.934
_SIDES = (1.0, -1.0)   # left limbs on +x, right limbs on -x
_LEGS = ((JOINT_INDEX["left_hip"], JOINT_INDEX["left_knee"], JOINT_INDEX["left_ankle"]),
         (JOINT_INDEX["right_hip"], JOINT_INDEX["right_knee"], JOINT_INDEX["right_ankle"]))
_ARMS = ((JOINT_INDEX["left_shoulder"], JOINT_INDEX["left_elbow"], JOINT_INDEX["left_wrist"]),
         (JOINT_INDEX["right_shoulder"], JOINT_INDEX["right_elbow"], JOINT_INDEX["right_wrist"]))

_RING_ANGLES = np.linspace(0.0, 2.0 * math.pi, RING_POINTS, endpoint=False)


@dataclass(frozen=True)
class Build:
    """Body proportions: height in metres; width, head and girth as multipliers of the average build."""

    height: float = 1.75
    width: float = 1.0
    head: float = 1.0
    girth: float = 1.0


@dataclass(frozen=True)
class Appearance:
    """Persistent look of one person: BGR colours per body part and the shirt's texture tile.

    texture: (S, S, 3) uint8 pattern mapped onto the shirt, or None for a plain shirt. hair None = bald.
    """

    skin: tuple[float, float, float]
    hair: tuple[float, float, float] | None
    long_hair: bool
    shirt: tuple[float, float, float]
    upper_arm: tuple[float, float, float]
    lower_arm: tuple[float, float, float]
    thigh: tuple[float, float, float]
    shin: tuple[float, float, float]
    shoes: tuple[float, float, float]
    texture: np.ndarray | None = None


@dataclass
class Pose:
    """Joint angles in radians, per side (left, right). Flexion moves a limb forward, abduction outward."""

    hip_flex: tuple[float, float] = (0.0, 0.0)
    hip_abd: tuple[float, float] = (0.03, 0.03)
    knee: tuple[float, float] = (0.05, 0.05)
    shoulder_flex: tuple[float, float] = (0.0, 0.0)
    shoulder_abd: tuple[float, float] = (0.08, 0.08)
    elbow: tuple[float, float] = (0.25, 0.25)
    # direction (body frame) the forearm bends towards; forward for a hanging arm, up for a wave
    elbow_hint: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 1.0), (0.0, 0.0, 1.0))
    lean: float = 0.03
    head_yaw: float = 0.0


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (255.0 * b, 255.0 * g, 255.0 * r)


def _garment_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """Clothes: saturated colours, greys, near-black and near-white."""
    kind = rng.random()
    if kind < 0.55:
        return _hsv(rng.random(), rng.uniform(0.35, 0.95), rng.uniform(0.3, 0.95))
    if kind < 0.8:
        return _hsv(rng.random(), rng.uniform(0.0, 0.15), rng.uniform(0.15, 0.8))
    return _hsv(rng.uniform(0.55, 0.68), rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.6))  # denim-like blues


def _skin_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """Human skin tones from dark to light (BGR)."""
    t = rng.random()
    dark, light = np.array([45.0, 62.0, 105.0]), np.array([165.0, 195.0, 235.0])
    c = dark + t * (light - dark) + rng.normal(0.0, 6.0, 3)
    return tuple(float(v) for v in np.clip(c, 0, 255))  # type: ignore[return-value]


def _hair_colour(rng: np.random.Generator) -> tuple[float, float, float] | None:
    if rng.random() < 0.07:
        return None
    return [(20.0, 20.0, 25.0), (25.0, 45.0, 75.0), (60.0, 110.0, 160.0), (150.0, 150.0, 155.0),
            (30.0, 60.0, 140.0)][int(rng.choice(5, p=[0.45, 0.3, 0.12, 0.08, 0.05]))]


def shirt_texture(rng: np.random.Generator, base: tuple[float, float, float], size: int = 64) -> np.ndarray | None:
    """A shirt pattern tile (size, size, 3) uint8: stripes, checks, dots or fabric noise; None for plain."""
    kind = int(rng.choice(6, p=[0.35, 0.2, 0.1, 0.15, 0.1, 0.1]))
    if kind == 0:
        return None
    second = np.array(_garment_colour(rng))
    tile = np.empty((size, size, 3), np.float32)
    tile[:] = base
    period = int(rng.integers(6, 17))
    idx = np.arange(size)
    band = (idx % period) < period // 2
    if kind == 1:
        tile[band] = second                      # horizontal stripes
    elif kind == 2:
        tile[:, band] = second                   # vertical stripes
    elif kind == 3:
        tile[band[:, None] ^ band[None, :]] = second   # checks
    elif kind == 4:
        yy, xx = np.mgrid[0:size, 0:size] % period - period / 2.0
        tile[yy ** 2 + xx ** 2 < (period / 4.0) ** 2] = second   # dots
    else:
        tile += rng.normal(0.0, 18.0, (size, size, 1)).astype(np.float32)   # knit / fabric noise
    return np.clip(tile, 0, 255).astype(np.uint8)


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """A random person's look: skin, hair, shirt with sleeves (long or short), trousers or shorts, shoes."""
    skin = _skin_colour(rng)
    shirt = _garment_colour(rng)
    jacket = _garment_colour(rng) if rng.random() < 0.25 else shirt
    sleeves = rng.random()
    lower_arm = skin if sleeves < 0.35 else jacket
    upper_arm = skin if sleeves < 0.1 else jacket
    trousers = _garment_colour(rng)
    shin = skin if rng.random() < 0.2 else trousers
    shoes = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.05, 0.9))
    return Appearance(skin=skin, hair=_hair_colour(rng), long_hair=bool(rng.random() < 0.3), shirt=shirt,
                      upper_arm=upper_arm, lower_arm=lower_arm, thigh=trousers, shin=shin, shoes=shoes,
                      texture=shirt_texture(rng, shirt))


def sample_build(rng: np.random.Generator) -> Build:
    """Adult proportions with some spread (1.5-1.95 m)."""
    return Build(height=float(np.clip(rng.normal(1.72, 0.1), 1.5, 1.95)), width=float(rng.uniform(0.9, 1.12)),
                 head=float(rng.uniform(0.93, 1.08)), girth=float(rng.uniform(0.85, 1.25)))


def _limb_dir(flex: float, abd: float, side: float) -> np.ndarray:
    """Unit direction of a limb hanging down, flexed forward by `flex` and abducted outward by `abd`."""
    ca = math.cos(abd)
    return np.array([side * math.sin(abd), -math.cos(flex) * ca, math.sin(flex) * ca])


def _bend(direction: np.ndarray, angle: float, hint: np.ndarray) -> np.ndarray:
    """Rotate `direction` by `angle` towards `hint` (in the plane they span)."""
    w = hint - direction * float(hint @ direction)
    n = float(np.linalg.norm(w))
    if n < 1e-6:   # hint along the limb: any perpendicular will do; forward keeps it deterministic
        w = np.array([0.0, -direction[2], direction[1]])
        n = float(np.linalg.norm(w)) or 1.0
    return direction * math.cos(angle) + w / n * math.sin(angle)


def body_points(build: Build, pose: Pose) -> np.ndarray:
    """3D points (NUM_POINTS, 3) of a body in `pose`, metres, body frame, feet on the ground (y = 0)."""
    h = build.height
    p = np.zeros((NUM_POINTS, 3))
    # legs
    for side, (ih, ik, ia), flex, abd, knee in zip(_SIDES, _LEGS, pose.hip_flex, pose.hip_abd, pose.knee):
        hip = np.array([side * 0.068 * build.width, HIP_HEIGHT, 0.0]) * h
        knee_pt = hip + THIGH * h * _limb_dir(flex, abd, side)
        shin_flex = flex - knee
        ankle = knee_pt + SHIN * h * _limb_dir(shin_flex, abd, side)
        p[ih], p[ik], p[ia] = hip, knee_pt, ankle
        pitch = 0.5 * shin_flex   # the foot follows the shin a little: toes down behind, up in front
        toe = np.array([0.0, -0.03 * math.cos(pitch) + 0.07 * math.sin(pitch),
                        0.07 * math.cos(pitch) + 0.03 * math.sin(pitch)]) * h
        p[TOES[0] if side > 0 else TOES[1]] = ankle + toe
    # upper body upright first, leaned forward about the hips afterwards
    for side, (ish, _, _) in zip(_SIDES, _ARMS):
        p[ish] = np.array([side * 0.113 * build.width, 0.818, 0.0]) * h
    p[NECK] = (0.0, 0.832 * h, 0.0)
    hs = build.head
    center = np.array([0.0, _HEAD_CENTER_Y * h, 0.0])
    p[HEAD_CENTER] = center
    p[HEAD_TOP] = center + (0.0, HEAD_HALF[1] * h * hs, 0.0)
    p[HEAD_BOTTOM] = center - (0.0, HEAD_HALF[1] * h * hs, -0.012 * h)
    cy, sy = math.cos(pose.head_yaw), math.sin(pose.head_yaw)
    face = _FACE_OFFSETS * h * hs
    face_rot = np.stack([face[:, 0] * cy + face[:, 2] * sy, face[:, 1], -face[:, 0] * sy + face[:, 2] * cy], 1)
    p[_FACE] = center + face_rot
    mouth = np.array([0.0, -0.036, 0.048]) * h * hs
    p[MOUTH] = center + (mouth[2] * sy, mouth[1], mouth[2] * cy)
    for r, (y, hw, hd) in enumerate(RINGS):
        ring = slice(RING_START + r * RING_POINTS, RING_START + (r + 1) * RING_POINTS)
        p[ring, 0] = np.cos(_RING_ANGLES) * hw * h * build.width
        p[ring, 1] = y * h
        p[ring, 2] = np.sin(_RING_ANGLES) * hd * h * build.width
    _lean(p, pose.lean, HIP_HEIGHT * h)
    # arms hang from the leaned shoulders
    for k, (side, (ish, iel, iwr)) in enumerate(zip(_SIDES, _ARMS)):
        upper = _limb_dir(pose.shoulder_flex[k], pose.shoulder_abd[k], side)
        fore = _bend(upper, pose.elbow[k], np.asarray(pose.elbow_hint[k], float))
        p[iel] = p[ish] + UPPER_ARM * h * upper
        p[iwr] = p[iel] + FOREARM * h * fore
        p[HANDS[k]] = p[iwr] + 0.065 * h * fore
    # the lower foot touches the ground
    ground = min(p[_LEGS[0][2], 1], p[_LEGS[1][2], 1]) - ANKLE_HEIGHT * h
    p[:, 1] -= ground
    return p


_UPPER = np.array(sorted(set(_FACE) | {HEAD_TOP, HEAD_BOTTOM, HEAD_CENTER, NECK, MOUTH,
                                       JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]}
                         | set(range(RING_START, RING_START + 4 * RING_POINTS))))


def _lean(p: np.ndarray, lean: float, pivot_y: float) -> None:
    """Tilt the upper body forward by `lean` radians about the hips, in place."""
    c, s = math.cos(lean), math.sin(lean)
    y = p[_UPPER, 1] - pivot_y
    z = p[_UPPER, 2]
    p[_UPPER, 1] = pivot_y + y * c - z * s
    p[_UPPER, 2] = z * c + y * s


# Arm actions: (shoulder flexion, abduction, elbow, elbow hint, elbow oscillation); "both_up" uses both arms.
ARM_ACTIONS: dict[str, tuple[float, float, float, tuple[float, float, float], float]] = {
    "wave": (0.25, 1.45, 1.25, (0.0, 1.0, 0.0), 0.45),
    "raise": (2.7, 0.25, 0.25, (0.0, 0.0, 1.0), 0.0),
    "point": (1.45, 0.15, 0.1, (0.0, 1.0, 0.0), 0.0),
    "phone": (0.35, 0.35, 2.4, (0.0, 0.6, 0.8), 0.0),
    "reach": (0.95, 0.6, 0.5, (0.0, 1.0, 0.0), 0.0),
    "both_up": (2.6, 0.45, 0.4, (0.0, 0.0, 1.0), 0.0),
}


@dataclass
class ArmAction:
    """An arm movement over time: `kind` from ARM_ACTIONS, on arm 0 (left), 1 (right) or 2 (both)."""

    kind: str
    arm: int
    start: float      # seconds
    duration: float   # seconds

    def weight(self, t: float) -> float:
        """Blend weight at time t: eases in and out over 0.4 s."""
        u = min(t - self.start, self.start + self.duration - t) / 0.4
        u = min(max(u, 0.0), 1.0)
        return u * u * (3.0 - 2.0 * u)


def _angle_diff(a: float, b: float) -> float:
    """a - b wrapped to (-pi, pi]."""
    return (a - b + math.pi) % (2.0 * math.pi) - math.pi


@dataclass
class Walker:
    """One person moving over the ground plane.

    x: lateral position (metres, right of the optical axis), distance: from the camera (metres), heading:
    direction of travel (radians; 0 = towards the camera, +pi/2 = to the right of the image), yaw: the way the
    body faces (same convention). `start` is the first frame the person exists.
    """

    build: Build
    appearance: Appearance
    x: float
    distance: float
    heading: float = 0.0
    yaw: float | None = None
    speed: float = 0.0
    cruise: float = 1.3             # walking speed when walking, m/s
    walking: bool = False
    start: int = 0
    distance_range: tuple[float, float] = (2.0, 30.0)
    seed: int = 0
    phase: float = 0.0
    head_yaw: float = 0.0
    facing_goal: float | None = None
    actions: list[ArmAction] = field(default_factory=list)
    time: float = 0.0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.yaw is None:
            self.yaw = self.heading
        self.rng = np.random.default_rng(self.seed)

    def step(self, dt: float) -> None:
        """Advance by dt seconds: decide to stop, go or turn; move; advance the gait and arm actions."""
        rng = self.rng
        self._decide(dt, rng)
        target = self.cruise if self.walking else 0.0
        accel = 2.5 * dt
        self.speed += float(np.clip(target - self.speed, -accel, accel))
        self.heading += 0.25 * math.sqrt(dt) * float(rng.normal())   # wander
        goal = self.heading if self.walking or self.facing_goal is None else self.facing_goal
        turn = 4.0 * dt   # at most 4 rad/s: a turn takes several frames and is seen
        self.yaw += float(np.clip(_angle_diff(goal, self.yaw), -turn, turn))
        self.x += self.speed * math.sin(self.heading) * dt
        self.distance -= self.speed * math.cos(self.heading) * dt
        self.distance = float(np.clip(self.distance, *self.distance_range))
        stride = self.build.height * (0.45 + 0.3 * self.speed)
        self.phase = (self.phase + 2.0 * math.pi * self.speed / stride * dt) % (2.0 * math.pi)
        self.head_yaw += -self.head_yaw * dt + 0.4 * math.sqrt(dt) * float(rng.normal())
        self.head_yaw = float(np.clip(self.head_yaw, -0.9, 0.9))
        self.time += dt

    def _decide(self, dt: float, rng: np.random.Generator) -> None:
        """Random events: stop, start, turn, face somewhere else, start an arm action."""
        if self.walking and rng.random() < 0.04 * dt:
            self.walking = False
        elif not self.walking and rng.random() < 0.3 * dt:
            self.walking = True
            self.facing_goal = None
        if not self.walking and rng.random() < 0.25 * dt:
            self.facing_goal = float(rng.uniform(-math.pi, math.pi))
        near, far = self.distance_range
        toward = math.cos(self.heading)
        if (self.distance < near + 0.5 and toward > 0.2) or (self.distance > far - 0.5 and toward < -0.2):
            self.heading = self._new_heading(rng, away=self.distance < near + 0.5)
        elif rng.random() < 0.08 * dt:
            self.heading = self._new_heading(rng, away=None)
        self.actions = [a for a in self.actions if a.start + a.duration > self.time]
        if not self.actions and rng.random() < 0.12 * dt:
            kind = str(rng.choice(list(ARM_ACTIONS)))
            arm = 2 if kind == "both_up" else int(rng.integers(2))
            self.actions.append(ArmAction(kind, arm, self.time, float(rng.uniform(1.0, 3.5))))

    def _new_heading(self, rng: np.random.Generator, away: bool | None) -> float:
        """Mostly across the image, sometimes towards or away from the camera; `away` forces the depth sense."""
        if away is None and rng.random() < 0.75:
            return float(rng.choice([-0.5, 0.5]) * math.pi + rng.normal(0.0, 0.35))
        if away is None:
            away = bool(rng.random() < 0.5)
        base = math.pi if away else 0.0
        return float(base + rng.normal(0.0, 0.6))

    def pose(self) -> Pose:
        """Joint angles for the current gait phase, speed and arm actions."""
        v = self.speed
        walk = min(v / 0.7, 1.0)                          # 0 standing .. 1 walking
        run = min(max((v - 1.9) / 0.9, 0.0), 1.0)         # 0 walking .. 1 running
        a_hip = walk * (0.3 + 0.06 * min(v, 2.0)) + 0.2 * run
        k0, k1 = 0.06 + 0.1 * run, walk * (0.9 + 0.8 * run)
        a_arm = walk * (0.25 + 0.1 * min(v, 2.0)) + 0.3 * run
        left, right = self.phase, self.phase + math.pi
        hip_flex = (a_hip * math.sin(left) + 0.04, a_hip * math.sin(right) + 0.04)
        # the knee bends most early in the swing, as the leg starts moving forward
        knee = (k0 + k1 * max(0.0, math.cos(left + 0.4)) ** 2, k0 + k1 * max(0.0, math.cos(right + 0.4)) ** 2)
        # arms swing against the leg of their side
        shoulder = [-a_arm * math.sin(left) + 0.03, -a_arm * math.sin(right) + 0.03]
        elbow = [0.2 + walk * (0.12 + 0.3 * max(0.0, f) / max(a_arm, 1e-3)) + 1.1 * run for f in shoulder]
        abd = [0.08 + 0.06 * run, 0.08 + 0.06 * run]
        hints = [(0.0, 0.0, 1.0), (0.0, 0.0, 1.0)]
        for action in self.actions:
            w = action.weight(self.time)
            flex, ab, el, hint, wobble = ARM_ACTIONS[action.kind]
            el += wobble * math.sin(2.0 * math.pi * 2.2 * (self.time - action.start))
            for k in ((0, 1) if action.arm == 2 else (action.arm,)):
                shoulder[k] = (1 - w) * shoulder[k] + w * flex
                abd[k] = (1 - w) * abd[k] + w * ab
                elbow[k] = (1 - w) * elbow[k] + w * el
                hints[k] = ((1 - w) * hints[k][0] + w * hint[0], (1 - w) * hints[k][1] + w * hint[1],
                            (1 - w) * hints[k][2] + w * hint[2])
        lean = 0.03 + 0.04 * walk * min(v, 1.8) / 1.4 + 0.12 * run
        return Pose(hip_flex=hip_flex, knee=knee, shoulder_flex=(shoulder[0], shoulder[1]),
                    shoulder_abd=(abd[0], abd[1]), elbow=(elbow[0], elbow[1]), elbow_hint=(hints[0], hints[1]),
                    lean=lean, head_yaw=self.head_yaw)

    def points(self) -> np.ndarray:
        """3D points (NUM_POINTS, 3) of the current pose, body frame, metres."""
        return body_points(self.build, self.pose())

