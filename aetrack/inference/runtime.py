"""A network made ready to run on a device: eval mode, channels-last layout, optional torch.compile, autocast at
a chosen precision, float32 outputs; and host -> device copies through pinned memory. `Predictor` and `Refiner`
both run their networks through `Network`."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable

import torch

from aetrack.config import check_precision
from aetrack.errors import AetrackError

log = logging.getLogger(__name__)

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when available; an unavailable device is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AetrackError(f"device '{name}' requested but CUDA is not available (use --device cpu)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise AetrackError(f"unknown device '{name}' (use auto, cpu or cuda)") from None


def resolve_precision(precision: str, device: torch.device, cpu_bf16: bool = False) -> str:
    """'fp32', 'bf16' or 'fp16' for a precision setting on `device`; 'auto' is bf16 on CUDA (fp16 on GPUs
    without bf16) and fp32 elsewhere, or, with `cpu_bf16`, bf16 on CPUs whose oneDNN runs bf16 (AVX-512 and
    newer). A precision the device cannot run is a user error."""
    check_precision(precision, "precision")
    cuda = device.type == "cuda"
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_bf16 and device.type == "cpu" and cpu_runs_bf16() else "fp32"
    if precision == "fp32":
        return precision
    if precision == "fp16" and not cuda:
        raise AetrackError(f"precision fp16 needs a CUDA device, not {device.type} (use bf16 or fp32)")
    if device.type not in ("cpu", "cuda"):
        raise AetrackError(f"precision {precision} is for cpu and cuda devices, not {device.type} (use fp32)")
    if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise AetrackError("this GPU has no bf16 arithmetic (use fp16 or fp32)")
    return precision


def cpu_runs_bf16() -> bool:
    """Whether this CPU has the bf16 kernels of oneDNN (AVX-512 and newer); False where torch cannot tell."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`; a CPU tensor goes to a GPU through pinned memory, without waiting for the copy."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        # torch's pinned-memory pool keeps the staging block until the copy has finished
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _uses_conv2d(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _float32(output: Any) -> Any:
    """A network's answer (a tensor, or a list or tuple of them) as contiguous float32 tensors."""
    if isinstance(output, (list, tuple)):
        return type(output)(_float32(o) for o in output)
    return output.float().contiguous() if torch.is_tensor(output) else output


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class Network(torch.nn.Module):
    """`module` in eval mode on `device`, run at `precision` (see `resolve_precision`) with float32 outputs.

    cpu_bf16: 'auto' precision runs bf16 on a CPU that has bf16 kernels (for networks whose outputs barely move).
    channels_last: a network with 2-D convolutions is converted to NHWC in place (its parameters are changed) and
        its 4-D inputs with it. compile: torch.compile it; when torch has no compile, or compiling fails (which may
        only show at the first call), one warning is logged and the network runs uncompiled.
    """

    def __init__(self, module: torch.nn.Module, device: torch.device, precision: str = "auto",
                 channels_last: bool = True, compile: bool = False, cpu_bf16: bool = False) -> None:
        super().__init__()
        self.precision = resolve_precision(precision, device, cpu_bf16)
        self.device = device
        self.channels_last = channels_last and _uses_conv2d(module)
        module = module.to(device).eval()
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        # a plain function attribute, not a submodule: modules() lists the network's layers once
        self._compiled: Callable | None = _compile(module.forward) if compile else None

    def forward(self, x: torch.Tensor) -> Any:
        """The network's answer to `x` (on `device`), every tensor of it float32."""
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        dtype = _DTYPES.get(self.precision)
        context = torch.autocast(self.device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with context:
            return _float32(self._run(x))

    def _run(self, x: torch.Tensor) -> Any:
        if self._compiled is not None:
            try:
                return self._compiled(x)
            except Exception as exc:  # compile errors surface at the first call, as any exception type
                log.warning("torch.compile failed (%s); running the network uncompiled", _one_line(exc))
                self._compiled = None
        return self.module(x)


def _compile(fn: Callable) -> Callable | None:
    """torch.compile(fn), or None (with a warning) where this torch cannot."""
    compile_fn = getattr(torch, "compile", None)
    if compile_fn is None:
        log.warning("torch %s has no torch.compile; running the network uncompiled", torch.__version__)
        return None
    try:
        return compile_fn(fn)
    except Exception as exc:  # e.g. a Python version this torch cannot compile for
        log.warning("torch.compile is not available (%s); running the network uncompiled", _one_line(exc))
        return None
