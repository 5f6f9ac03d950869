"""Settings as dataclasses, loaded strictly from YAML: an unknown key is an error that names it.

A config file has top-level sections matching the fields of `Config` (``model``, ``inference``, ...);
every section is optional and falls back to its defaults.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aetrack.errors import AetrackError
from aetrack.skeleton import NUM_JOINTS



def _config_dir() -> Path:
    """The presets folder: installed as package `aetrack.configs` (mapped from the repository's `configs/`)."""
    try:
        from importlib.resources import files
        return Path(str(files("aetrack.configs")))
    except (ImportError, ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parent.parent / "configs"


CONFIG_DIR = _config_dir()


ARCHS = ("hourglass", "mmpose-hourglass-ae", "higherhrnet", "topdown-hourglass")

# Which of ModelConfig's tuple fields each architecture reads; the others must stay empty.
_ARCH_FIELDS = {"hourglass": (), "mmpose-hourglass-ae": ("stage_channels",),
                "higherhrnet": ("stage_blocks", "stage_modules"),
                "topdown-hourglass": ("stage_channels", "stage_blocks")}


@dataclass(frozen=True)
class ModelConfig:
    """The network (`arch`) and the meaning of its output channels.

    `arch`: 'hourglass' is the paper's stacked hourglass as the authors built it (section 3.1); the others are
    mmpose 0.29's networks, built so its released COCO checkpoints load by name: 'mmpose-hourglass-ae' (the
    bottom-up hourglass with batch norm), 'higherhrnet' (HRNet with a stride-2 heatmap branch) and
    'topdown-hourglass' (single-person heatmaps of a person's crop, for the refinement step; no tags).

    Output channels of a tagged map, in order: `joints` heatmaps, `joints * tag_dim` tags (tag dimension d of
    joint j at channel joints + d * joints + j), `joints * temporal_dim` temporal tags, then `extra_channels`
    unused ones (the authors' COCO model has 34 of those). `output_strides` and `output_tags` say which maps a
    network gives; `input_norm` how its input images are scaled.
    """

    arch: str = "hourglass"
    stacks: int = 4                    # hourglasses (not higherhrnet)
    stem: tuple[int, ...] = (64, 128)  # channels of the stride-4 stem's first two convolutions (topdown-hourglass:
                                       # its 7x7 convolution and residual block; not higherhrnet)
    width: int = 256                   # feature channels: between hourglasses ("inp_dim" of the reference);
                                       # topdown-hourglass: of the convolution before each stack's heatmaps;
                                       # higherhrnet: of the stride-4 branch (branch i has width * 2**i)
    increase: int = 128                # hourglass: channels added at the outermost hourglass level
    inner_increase: int | None = None  # hourglass: channels added at deeper levels; None: same as `increase`
    depth: int = 4                     # downsamplings inside each hourglass
    batch_norm: bool = False           # hourglass only; mmpose's networks always have batch norm
    joints: int = NUM_JOINTS
    tag_dim: int = 1
    temporal_dim: int = 0
    extra_channels: int = 0
    input_size: int = 512              # square network input for single-scale inference, multiple of 64
    stage_channels: tuple[int, ...] = ()  # mmpose hourglasses: channels of each of the depth + 1 levels, outermost
                                          # first (mmpose-hourglass-ae: the first is `width`; topdown: stem[1])
    stage_blocks: tuple[int, ...] = ()    # topdown-hourglass: residual blocks of each level (depth + 1 entries);
                                          # higherhrnet: blocks per branch in stages 1, 2, 3, 4
    stage_modules: tuple[int, ...] = ()   # higherhrnet: multi-resolution modules in stages 2, 3, 4
    stage1_channels: int = 64          # higherhrnet: bottleneck channels of stage 1 (it outputs 4x as many)
    head_blocks: int = 4               # higherhrnet: basic blocks after the stride-2 deconvolution

    @property
    def out_channels(self) -> int:
        """Channels of the first (stride-4) output map."""
        if self.arch == "topdown-hourglass":
            return self.joints
        return self.joints * (1 + self.tag_dim + self.temporal_dim) + self.extra_channels

    @property
    def stride(self) -> int:
        """Input pixels per pixel of the first output map (the one with tags, for bottom-up networks)."""
        return 4

    @property
    def output_strides(self) -> tuple[int, ...]:
        """Stride of each output resolution: HigherHRNet adds stride-2 heatmaps to the stride-4 maps."""
        return (4, 2) if self.arch == "higherhrnet" else (4,)

    @property
    def output_tags(self) -> tuple[bool, ...]:
        """For each output resolution, whether its map holds tags after the heatmaps (only heatmaps otherwise)."""
        if self.arch == "higherhrnet":
            return (True, False)
        return (self.arch != "topdown-hourglass",)

    @property
    def input_norm(self) -> str:
        """'unit': RGB in [0, 1] (ours, the authors'); 'imagenet': ([0, 1] RGB - ImageNet mean) / std (mmpose's)."""
        return "unit" if self.arch == "hourglass" else "imagenet"

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise AetrackError(f"model.arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        for name in ("stacks", "width", "depth", "joints", "tag_dim", "input_size", "stage1_channels"):
            if getattr(self, name) < 1:
                raise AetrackError(f"model.{name} must be at least 1, got {getattr(self, name)}")
        if len(self.stem) != 2 or min(self.stem) < 1:
            raise AetrackError(f"model.stem must be two positive channel counts, got {list(self.stem)}")
        for name in ("increase", "temporal_dim", "extra_channels", "head_blocks"):
            if getattr(self, name) < 0:
                raise AetrackError(f"model.{name} must not be negative, got {getattr(self, name)}")
        if self.input_size % 64:
            raise AetrackError(f"model.input_size must be a multiple of 64, got {self.input_size}")
        self._check_stages()

    def _check_stages(self) -> None:
        used = _ARCH_FIELDS[self.arch]
        lengths = {"stage_channels": self.depth + 1, "stage_blocks": self.depth + 1, "stage_modules": 3}
        if self.arch == "higherhrnet":
            lengths["stage_blocks"] = 4
        for name in ("stage_channels", "stage_blocks", "stage_modules"):
            value = getattr(self, name)
            if name not in used:
                if value:
                    raise AetrackError(f"model.{name} is not used by model.arch {self.arch}; leave it out")
                continue
            if len(value) != lengths[name] or min(value) < 1:
                raise AetrackError(f"model.{name} must be {lengths[name]} positive numbers for model.arch "
                                   f"{self.arch} (depth {self.depth}), got {list(value)}")
        if self.arch == "mmpose-hourglass-ae" and self.stage_channels[0] != self.width:
            raise AetrackError(f"model.stage_channels[0] ({self.stage_channels[0]}) must equal model.width "
                               f"({self.width}) for model.arch {self.arch}")
        if self.arch == "topdown-hourglass" and self.stage_channels[0] != self.stem[1]:
            raise AetrackError(f"model.stage_channels[0] ({self.stage_channels[0]}) must equal model.stem[1] "
                               f"({self.stem[1]}) for model.arch {self.arch}")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def check_precision(value: str, name: str) -> None:
    """A precision setting is one of PRECISIONS (whether the device supports it is checked when a network is
    prepared for it)."""
    if value not in PRECISIONS:
        raise AetrackError(f"{name} must be one of {', '.join(PRECISIONS)}, got {value!r}")


@dataclass(frozen=True)
class InferenceConfig:
    """How images become network inputs and how maps become people.

    The defaults are aetrack's own path. mmpose 0.29's bottom-up test path (its released Hourglass-AE and
    HigherHRNet checkpoints were scored with it) is `resize: align`, `project: input`, `grouping: mmpose`,
    `base_scale_tags: true`, `nms_kernel: 5`, `flip: true`, and `align_corners` true for Hourglass-AE, false for
    HigherHRNet; the input normalisation follows the network (`ModelConfig.input_norm`).
    """

    flip: bool = False
    scales: tuple[float, ...] = (1.0,)
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    max_people: int = 30
    nms_kernel: int = 3
    adjust: bool = True          # quarter-pixel step toward the higher neighbour
    group_with_temporal: bool = False  # group joints on spatial and temporal tags together (both separate
                                       # people within a frame; more dimensions separate better)
    subpixel: str = "quarter"    # final joint positions: 'quarter' (the reference's step) or 'quadratic'
                                 # (parabola through the log heatmap: finer, for low-resolution maps)
    refine: bool = True          # fill missing joints (the paper's "missing joints" step)
    channel_order: str = "RGB"   # colour order the network was trained with
    resize: str = "letterbox"    # image -> input: 'letterbox' (long side to input_size x scale, padded right and
                                 # bottom to multiples of 64) or 'align' (mmpose: short side to input_size x scale,
                                 # warped about the image centre, both sides multiples of 64)
    project: str = "heatmap"     # grid on which outputs, flips and scales are merged and people decoded:
                                 # 'heatmap' (scale 1's finest output map, resampled geometrically) or 'input'
                                 # (maps resized to scale 1's input size, mmpose's project2image; needs 'align')
    align_corners: bool = False  # project 'input': bilinear resize with align_corners (mmpose's Hourglass-AE: true)
    grouping: str = "aetrack"    # 'aetrack' (our decoder) or 'mmpose' (mmpose 0.29's HeatmapParser: L2 tag
                                 # distance, people in the order found, no cap on people; max_people only bounds
                                 # the candidates per joint)
    base_scale_tags: bool = False  # several scales: group on scale 1's tags only (mmpose), not on every scale's
    oks_nms: float = 0.0         # drop a person whose OKS with a higher-scoring one is above this (mmpose's
                                 # optional hard OKS-NMS, threshold 0.9 there; its COCO evaluation of these
                                 # models uses none, and no rescoring); 0: off
    precision: str = "auto"      # the network's arithmetic (torch.autocast): 'fp32', 'bf16', 'fp16' (CUDA only)
                                 # or 'auto' (bf16 on CUDA, fp16 on GPUs without bf16, fp32 on CPU); outputs
                                 # are float32 either way and everything after the network stays float32
    channels_last: bool = True   # run convolutional networks in NHWC layout (faster on CPU and CUDA; in fp32 the
                                 # same results up to rounding)
    compile: bool = False        # torch.compile the network (the first call compiles: tens of seconds on a CPU);
                                 # where compiling fails, the network runs uncompiled after a one-line warning

    def __post_init__(self) -> None:
        if not self.scales or any(s <= 0 for s in self.scales):
            raise AetrackError(f"inference.scales must be positive numbers, got {list(self.scales)}")
        for name, allowed in (("resize", ("letterbox", "align")), ("project", ("heatmap", "input")),
                              ("grouping", ("aetrack", "mmpose"))):
            if getattr(self, name) not in allowed:
                raise AetrackError(f"inference.{name} must be {' or '.join(allowed)}, got {getattr(self, name)!r}")
        if self.project == "input" and self.resize != "align":
            raise AetrackError("inference.project 'input' needs inference.resize 'align' (its inputs at every "
                               "scale are multiples of one another, so plain resizing lines the maps up)")
        if self.base_scale_tags and len(self.scales) > 1 and 1.0 not in self.scales:
            raise AetrackError(f"inference.base_scale_tags needs scale 1 among inference.scales, got "
                               f"{list(self.scales)}")
        if self.grouping == "mmpose" and self.subpixel != "quarter":
            raise AetrackError("inference.subpixel 'quadratic' is aetrack's grouping's; mmpose's takes quarter steps")
        if not 0.0 <= self.oks_nms <= 1.0:
            raise AetrackError(f"inference.oks_nms must be between 0 (off) and 1, got {self.oks_nms}")
        if self.channel_order not in ("RGB", "BGR"):
            raise AetrackError(f"inference.channel_order must be RGB or BGR, got {self.channel_order!r}")
        if self.subpixel not in ("quarter", "quadratic"):
            raise AetrackError(f"inference.subpixel must be quarter or quadratic, got {self.subpixel!r}")
        if self.nms_kernel < 1 or self.nms_kernel % 2 == 0:
            raise AetrackError(f"inference.nms_kernel must be an odd number >= 1, got {self.nms_kernel}")
        check_precision(self.precision, "inference.precision")


@dataclass(frozen=True)
class TrackerConfig:
    """How people are linked across frames: which people count, cost and gates, track life cycle, motion noise.

    Distances in poses are relative to the person's size (square root of the keypoint box area, pixels), so one
    config serves any image resolution; embedding distances are Euclidean in temporal-tag units.
    """

    # Which people and joints take part.
    min_joint_score: float = 0.1     # joints scoring at or below this count as not found
    high_score: float = 0.3          # people scoring at least this take part in every association round
    low_score: float = 0.1           # people in [low_score, high_score) only extend tracked tracks; = high_score: off
    new_track_score: float = 0.4     # least person score that starts a track (below high_score: high_score)

    # Association cost = pose_weight * (1 - OKS) + embedding_weight * distance / max_embedding_distance.
    pose_weight: float = 1.0
    embedding_weight: float = 1.0    # 0: ignore temporal tags (no embedding term, no embedding gate)
    min_oks: float = 0.2             # gate for tracked and tentative tracks (and for lost ones without embeddings)
    min_oks_reid: float = 0.01       # looser gate for lost tracks re-identified by embedding: their prediction drifted
    max_embedding_distance: float = 1.0  # gate; the spatial tags' grouping threshold is the same scale

    # Track life cycle, in frames.
    min_hits: int = 3                # matched frames before a tentative track is confirmed and gets an id
    max_age: int = 30                # frames a lost track is kept for re-identification
    report_tentative: bool = False   # also report tentative tracks (id -1, confirmed False)

    # Constant-velocity Kalman filter; standard deviations as fractions of the person's size, per frame.
    process_noise_joint: float = 0.03     # a joint's own motion around the body (limbs swing)
    process_noise_velocity: float = 0.01  # change of the body's velocity
    measurement_noise: float = 0.03       # error of a decoded joint position
    embedding_momentum: float = 0.9       # running embedding = momentum * old + (1 - momentum) * new
    smooth_keypoints: bool = False        # report the filter's keypoints instead of the detection's

    def __post_init__(self) -> None:
        for name in ("min_oks", "min_oks_reid", "embedding_momentum"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise AetrackError(f"tracker.{name} must be between 0 and 1, got {value}")
        if not 0.0 <= self.low_score <= self.high_score:
            raise AetrackError(f"tracker.low_score ({self.low_score}) must be between 0 and tracker.high_score "
                               f"({self.high_score})")
        for name in ("pose_weight", "embedding_weight", "min_joint_score", "new_track_score"):
            if getattr(self, name) < 0:
                raise AetrackError(f"tracker.{name} must not be negative, got {getattr(self, name)}")
        for name in ("max_embedding_distance", "process_noise_joint", "process_noise_velocity",
                     "measurement_noise"):
            if getattr(self, name) <= 0:
                raise AetrackError(f"tracker.{name} must be positive, got {getattr(self, name)}")
        if self.min_hits < 1:
            raise AetrackError(f"tracker.min_hits must be at least 1, got {self.min_hits}")
        if self.max_age < 0:
            raise AetrackError(f"tracker.max_age must not be negative, got {self.max_age}")


@dataclass(frozen=True)
class AugmentConfig:
    """Random geometry and colour changes for training, drawn once per clip so a clip stays consistent."""

    scale: tuple[float, ...] = (0.75, 1.25)  # range of zoom on top of fitting the image to the input
    rotation: float = 30.0                   # degrees, uniform in [-rotation, rotation]
    translate: float = 0.1                   # fraction of the input size, uniform in [-t, t] per axis
    flip: float = 0.5                        # probability of a horizontal mirror (joints swapped with FLIP)
    color: float = 0.2                       # brightness / contrast / saturation jitter amplitude

    def __post_init__(self) -> None:
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise AetrackError(f"train.augment.scale must be [min, max] with 0 < min <= max, got {list(self.scale)}")
        if not 0 <= self.flip <= 1:
            raise AetrackError(f"train.augment.flip is a probability, got {self.flip}")


@dataclass(frozen=True)
class DataConfig:
    """Where training clips come from: 'synth' (generated on the fly), 'coco' or 'posetrack'."""

    kind: str = "synth"
    images: str = ""          # coco: image folder; posetrack: dataset root holding the frame folders
    annotations: str = ""     # coco: keypoint JSON file; posetrack: folder of per-video JSON files
    synth_people: tuple[int, ...] = (1, 6)     # range of people per synthetic video
    synth_size: tuple[int, ...] = (640, 360)   # synthetic frame size, width and height
    samples_per_epoch: int = 20000             # synthetic data is endless; this sets the epoch length
    val: str = ""             # COCO keypoint file for validation (video frames as '<video>#<frame>' allowed);
                              # empty with kind 'synth': a held-out synthetic set is generated in train.out

    def __post_init__(self) -> None:
        if self.kind not in ("synth", "coco", "posetrack"):
            raise AetrackError(f"train.data.kind must be synth, coco or posetrack, got {self.kind!r}")


@dataclass(frozen=True)
class TrainConfig:
    """The training run. Defaults follow the paper: Adam, lr 2e-4 dropped to 1e-5 after 150k iterations."""

    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    batch_size: int = 32           # frames per step (clips * clip_length)
    clip_length: int = 2           # consecutive frames per clip for the temporal loss (1 for still images)
    crop_size: int = 0             # train on square crops of this size at inference scale (0: whole input)
    sigma: float = 0.0             # heatmap Gaussian sigma in output pixels (0: the reference's input_size / 256)
    max_people: int = 30
    iterations: int = 200_000
    lr: float = 2e-4
    lr_drop_at: int = 150_000
    lr_after_drop: float = 1e-5
    tag_weight: float = 1e-3
    temporal_weight: float = 1e-3
    workers: int = 4
    amp: bool = True               # bf16 autocast on CUDA; ignored on CPU
    out: str = "runs/train"
    checkpoint_every: int = 1000
    log_every: int = 20
    val_every: int = 0             # iterations between validations (COCO AP on data.val); 0: never
    seed: int = 0

    def __post_init__(self) -> None:
        if self.crop_size < 0 or self.crop_size % 64:
            raise AetrackError(f"train.crop_size must be 0 or a multiple of 64, got {self.crop_size}")
        if self.clip_length < 1 or self.batch_size < self.clip_length or self.batch_size % self.clip_length:
            raise AetrackError(f"train.batch_size ({self.batch_size}) must be a positive multiple of "
                               f"train.clip_length ({self.clip_length})")


@dataclass(frozen=True)
class Config:
    """All settings of a run; sections are added here as the modules that read them land."""

    model: ModelConfig = field(default_factory=ModelConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, refusing unknown keys and values of the wrong type."""
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise AetrackError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise AetrackError(f"unknown config key '{path}' (known keys here: {known})")
        kwargs[key] = _coerce(hints[key], value, path)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, path: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, path)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise AetrackError(f"config key '{path}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AetrackError(f"config key '{path}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AetrackError(f"config key '{path}' must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise AetrackError(f"config key '{path}' must be a string, got {value!r}")
        return value
    return value


def config_from_dict(data: dict | None) -> Config:
    """A `Config` from nested plain data (as read from YAML or stored in a checkpoint)."""
    return _from_dict(Config, data, "")


def config_to_dict(config: Config) -> dict:
    """Plain nested data for YAML files and checkpoints (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(config))


def resolve_config_path(name: str | Path) -> Path:
    """A config file path, or the name of a preset in `configs/` (with or without `.yaml`)."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (CONFIG_DIR / path.name, CONFIG_DIR / f"{path.name}.yaml"):
        if candidate.is_file():
            return candidate
    presets = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise AetrackError(f"config '{name}' not found: not a file, and not a preset ({presets})")


def _read_config_data(name: str | Path) -> tuple[Path, dict]:
    """The file behind `name` and its YAML data (`yaml.safe_load`), a mapping of sections ({} when empty)."""
    path = resolve_config_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AetrackError(f"cannot read config {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AetrackError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is not None and not isinstance(data, dict):
        raise AetrackError(f"config {path} must be a mapping of sections, got {type(data).__name__}")
    return path, data or {}


def load_config(name: str | Path) -> Config:
    """Read a YAML config file (or a preset name) with `yaml.safe_load`, strictly."""
    path, data = _read_config_data(name)
    try:
        return config_from_dict(data)
    except AetrackError as exc:
        raise AetrackError(f"config {path}: {exc}") from None


def overlay_config(base: Config, name: str | Path, sections: tuple[str, ...] = ("inference", "tracker")) -> Config:
    """`base` with the keys a config file (or preset) sets in `sections` put over it; keys the file leaves out
    keep base's values (a checkpoint's own inference settings, say), and other sections are ignored. Checked as
    strictly as `load_config`."""
    path, data = _read_config_data(name)
    merged = config_to_dict(base)
    try:
        config_from_dict(data)   # the whole file must be valid, not just the sections used
        for section in sections:
            merged[section] = {**merged[section], **(data.get(section) or {})}
        return config_from_dict(merged)
    except AetrackError as exc:
        raise AetrackError(f"config {path}: {exc}") from None
