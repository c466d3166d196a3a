"""Data-parallel training with ``torch.distributed``: what the reference loop needs to run under torchrun.

    torchrun --standalone --nproc_per_node=2 -m lrscope train ... --batch-size 64 --out RUN
    lrscope train --nproc 2 ... --batch-size 64 --out RUN          # the same, launched for you

torchrun starts N processes and tells each its place through the environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``).  :func:`init_distributed` reads it, joins the process group
(gloo on CPU, nccl on CUDA) and returns a :class:`DistContext`; without torchrun it returns the one-process
context, whose every method is a no-op, so the loop has one code path.

Equivalence.  A global batch is ``batch_size * world_size`` examples drawn from one permutation that depends
only on (seed, epoch); rank r takes its contiguous share (``data.epoch_batches``).  DDP averages the ranks'
gradients, and the gradient of the global mean loss is

    grad (1/n) sum_i l_i = (1/W) sum_r grad [ (W n_r / n) * mean_{i in r} l_i ]

so each rank back-propagates its batch mean scaled by ``W n_r / n`` (:meth:`DistContext.batch_loss`).  For
equal shares the factor is exactly 1; it makes the last, uneven batch of an epoch exact too.  With a model
without batch norm, N processes with batch B then follow one process with batch N*B up to floating-point
rounding (tests/test_distributed.py holds them to 1e-4 relative over 4 epochs).

Synchronised: gradients (DDP's all-reduce), initial weights (DDP broadcasts rank 0's), batch-norm buffers
(rank 0's, broadcast each forward), and on CUDA batch statistics (SyncBatchNorm).  Metrics are reduced over
ranks (:meth:`DistContext.mean`, :meth:`DistContext.sum`) and only rank 0 writes (metrics, config,
checkpoints).  Not synchronised: the RNG streams (every rank seeds the same seed, so they draw alike), and on
CPU the batch statistics of batch norm (each rank normalises over its own share: gloo has no SyncBatchNorm).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from ..errors import UserError

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
BACKEND_ENV = "LRSCOPE_DIST_BACKEND"  # force a backend (gloo, nccl); default: nccl with CUDA, else gloo
TIMEOUT_ENV = "LRSCOPE_DIST_TIMEOUT"  # seconds a collective may wait for the other ranks (default 600)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank, the number of ranks, its device and the backend (None alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: str = "cpu"

    @property
    def active(self) -> bool:
        """True when there are several ranks (and so a process group)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    # ---- the batch

    def global_batch_size(self, n_train: int, batch_size: int, index: int) -> int:
        """Examples in global batch ``index`` (0-based) of an epoch: ``batch_size * world_size`` except the
        last, which holds what is left."""
        global_batch = batch_size * self.world_size
        return max(0, min(global_batch, n_train - index * global_batch))

    def batch_loss(self, loss_fn, logits, targets, n_global: int):
        """The loss to back-propagate on this rank: after DDP averages the ranks' gradients, the gradient is
        that of the mean loss over the whole global batch (module docstring).  Alone: ``loss_fn(logits,
        targets)`` unchanged.  ``loss_fn`` must average over the batch (``reduction="mean"``)."""
        if not self.active:
            return loss_fn(logits, targets)
        n_local = int(targets.shape[0])
        if n_local == 0:  # a last batch smaller than the world: this rank adds nothing, but must join the all-reduce
            return logits.sum() * 0.0
        loss = loss_fn(logits, targets)
        factor = n_local * self.world_size / n_global
        return loss if factor == 1.0 else loss * factor

    # ---- reductions (no-ops alone)

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over the ranks (float64; every rank must call this)."""
        if not self.active:
            return tuple(float(v) for v in values)
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._reduce_device())
        dist.all_reduce(tensor)
        return tuple(float(v) for v in tensor.cpu())

    def mean(self, value: float) -> float:
        """``value`` averaged over the ranks (the global mean loss when each rank gives its
        :meth:`batch_loss`)."""
        if not self.active:
            return float(value)
        return self.sum(value)[0] / self.world_size

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def _reduce_device(self) -> str:
        return self.device if self.backend == "nccl" else "cpu"

    # ---- the model

    def wrap(self, model):
        """The module to train with: ``model`` itself alone; under torch.distributed, ``model`` (its batch-norm
        layers turned into SyncBatchNorm on CUDA) wrapped in DistributedDataParallel.  Keep using ``model``
        itself for checkpoints and evaluation: it holds the same parameters, without DDP's ``module.``
        prefix."""
        if not self.active:
            return model
        import torch
        from torch.nn.parallel import DistributedDataParallel

        if self.device.startswith("cuda"):
            model = model.to(self.device)
            if has_batchnorm(model):
                # replaces the BN children in place; the parameters (and buffers) are the same tensors
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[self.local_rank], output_device=self.local_rank)
        return DistributedDataParallel(model)


def has_batchnorm(model) -> bool:
    from torch import nn

    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


# ---------------------------------------------------------------- joining the process group

_CONTEXT: dict[str, DistContext] = {}
_GRACE_S = 0.05  # seconds shutdown() leaves gloo's workers to finish, for processes that exit normally


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def _env_int(name: str, default: int | None = None) -> int:
    text = os.environ.get(name)
    if text is None:
        if default is None:
            raise UserError(f"torch.distributed launch: the environment variable {name} is missing")
        return default
    try:
        return int(text)
    except ValueError:
        raise UserError(f"torch.distributed launch: {name} must be an integer; got {text!r}") from None


def choose_backend(requested: str | None = None) -> str:
    """``requested`` (or $LRSCOPE_DIST_BACKEND), else nccl when CUDA is available, else gloo; checked to be
    built into this torch (UserError otherwise)."""
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise UserError(
            "this PyTorch build has no torch.distributed, so it cannot train on several processes; "
            "install a PyTorch build with distributed support or run one process (without torchrun/--nproc)"
        )
    backend = (requested or os.environ.get(BACKEND_ENV) or ("nccl" if torch.cuda.is_available() else "gloo"))
    backend = backend.strip().lower()
    available = {"gloo": dist.is_gloo_available(), "nccl": dist.is_nccl_available(),
                 "mpi": dist.is_mpi_available()}
    if backend not in available:
        raise UserError(f"unknown torch.distributed backend {backend!r}; expected gloo (CPU) or nccl (CUDA)")
    if not available[backend]:
        have = ", ".join(name for name, ok in available.items() if ok) or "none"
        hint = "gloo runs on CPU" if backend == "nccl" else "nccl needs CUDA GPUs"
        raise UserError(
            f"the torch.distributed backend {backend!r} is not available in this PyTorch build "
            f"(available: {have}; {hint}); set {BACKEND_ENV} to one that is, or run one process"
        )
    if backend == "nccl" and not torch.cuda.is_available():
        raise UserError("the nccl backend needs CUDA GPUs and none is visible; use gloo on CPU "
                        f"({BACKEND_ENV}=gloo)")
    return backend


def init_distributed(backend: str | None = None) -> DistContext:
    """Join torchrun's process group (once; later calls return the same context).  Without torchrun's
    environment, or with a world of one, return the one-process context and start nothing."""
    if "ctx" in _CONTEXT:
        return _CONTEXT["ctx"]
    import torch
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # someone (the user's script) joined already
        ctx = _context_from_group()
    elif not launched_by_torchrun() or _env_int("WORLD_SIZE") <= 1:
        ctx = DistContext()
    else:
        rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK", 0)
        if not 0 <= rank < world:
            raise UserError(f"torch.distributed launch: RANK {rank} is outside 0..{world - 1}")
        chosen = choose_backend(backend)
        device = "cpu"
        if chosen == "nccl":
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        timeout = timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, 600)))
        try:
            dist.init_process_group(chosen, rank=rank, world_size=world, timeout=timeout)
        except Exception as error:  # noqa: BLE001 - rendezvous failures come as many types
            raise UserError(
                f"cannot join the torch.distributed process group ({chosen}, rank {rank} of {world}): "
                f"{type(error).__name__}: {error}"
            ) from None
        atexit.register(shutdown)
        ctx = DistContext(rank=rank, world_size=world, local_rank=local, backend=chosen, device=device)
    _CONTEXT["ctx"] = ctx
    return ctx


def _context_from_group() -> DistContext:
    import torch.distributed as dist

    backend = str(dist.get_backend())
    local = _env_int("LOCAL_RANK", 0)
    device = f"cuda:{local}" if backend == "nccl" else "cpu"
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local,
                       backend=backend, device=device)


def current() -> DistContext:
    """The context of this process: the one :func:`init_distributed` made, the group someone else joined, or
    the one-process context.  Never joins a group itself."""
    if "ctx" in _CONTEXT:
        return _CONTEXT["ctx"]
    try:
        import torch.distributed as dist
    except ImportError:
        return DistContext()
    if dist.is_available() and dist.is_initialized():
        return _context_from_group()
    return DistContext()


def rank() -> int:
    return current().rank


def world_size() -> int:
    return current().world_size


def is_main() -> bool:
    return current().is_main


def shutdown() -> None:
    """Leave the process group (registered at exit by :func:`init_distributed`)."""
    ctx = _CONTEXT.pop("ctx", None)
    if ctx is None or not ctx.active:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    # gloo's destroy does not stop its worker threads; give them a moment with the GIL free to drop the
    # collectives they finished before the interpreter finalizes (see exit_process for why that matters)
    time.sleep(_GRACE_S)


def joined_group() -> bool:
    """Whether :func:`init_distributed` joined a process group in this process."""
    ctx = _CONTEXT.get("ctx")
    return ctx is not None and ctx.active


def exit_process(code: int | str | None) -> NoReturn:
    """End this rank's process now with ``code`` (as :class:`SystemExit` reads it), skipping interpreter
    finalization; what the process printed is flushed first.

    Why: gloo's worker threads can hold the last reference to an all-reduce they finished, and DDP launches
    its all-reduces from inside backward, where autograd has stashed a Python object (a contextvars copy) in
    the thread-local state each work captures.  Dropping that object takes the GIL; if the interpreter is
    finalizing by then, the worker thread exits inside a C++ destructor and std::terminate aborts the process
    (SIGABRT) although the run had finished (pytorch/pytorch#190489, torch 2.13).  Without finalization there
    is no such moment.  Nothing is lost: every file lrscope writes is closed, and fsynced where it matters,
    before the command returns.
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): Python prints the message and exits 1
        print(code, file=sys.stderr)
        status = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: no reader is left
            stream.flush()
    os._exit(status)


# ---------------------------------------------------------------- `lrscope train --nproc N`


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        out.append(arg)
    return out


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The torchrun command line that runs ``lrscope ARGV`` (``--nproc`` removed) on ``nproc`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(nproc)}",
            "-m", "lrscope", *strip_nproc(list(argv))]


def launch(nproc: int, argv: list[str] | None = None) -> int:
    """Run ``lrscope ARGV`` under torchrun on ``nproc`` local processes; return torchrun's exit code.

    ``argv`` defaults to this process's own arguments (``sys.argv[1:]``): ``lrscope train --nproc 2 ...``
    becomes ``python -m torch.distributed.run --standalone --nproc_per_node=2 -m lrscope train ...``.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise UserError(f"--nproc must be an integer >= 1; got {nproc!r}")
    if launched_by_torchrun():
        raise UserError("--nproc starts torchrun itself; do not give it to a command already run by torchrun")
    choose_backend()  # fail here, in one line, rather than in N tracebacks
    command = torchrun_command(nproc, sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    # torchrun sets OMP_NUM_THREADS=1 with a warning when it is unset; set it quietly to a fair share
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
    errors = _LauncherErrors()
    for line in process.stderr:
        shown = errors.filter(line)
        if shown:
            sys.stderr.write(shown)
            sys.stderr.flush()
    code = process.wait()
    if code != 0:
        for line in errors.summary():
            sys.stderr.write(line)
        return 2 if errors.user else code
    return 0


class _LauncherErrors:
    """Sort torchrun's stderr: the ranks' own lines pass through; torch's log lines (torchrun's and the C++
    c10d layer's) and torchrun's traceback (ChildFailedError) are dropped; each rank's one-line
    ``lrscope: error`` is kept once, for the end (user errors first: the other ranks' "connection closed"
    follow from them)."""

    # torchrun's Python log lines ("W1128 17:06:59.44 5452 torch/distributed/run.py:874] ...") and torch's C++
    # ones, also from a rank ("[rank0]:[W1128 ... torch/csrc/distributed/c10d/socket.cpp:...] ..."): the
    # latter come with load (connection retries, a peer gone) and say nothing the summary does not
    _TORCH_LOG = re.compile(r"^(?:\[rank\d+\]:)?\[?[IWE]\d{4} [\d:.]+ \d+ \S*torch/(?:csrc/)?distributed/")
    _ERROR_START = re.compile(r"(?=lrscope: (?:internal )?error:)")

    def __init__(self):
        self.user: list[str] = []
        self.internal: list[str] = []
        self._in_traceback = False

    def filter(self, line: str) -> str | None:
        if self._in_traceback or line.startswith("Traceback (most recent call last):"):
            self._in_traceback = True  # torchrun's own: the ranks print no tracebacks (without --debug)
            return None
        if self._TORCH_LOG.match(line):
            return None
        # two ranks writing at once can run their lines together: "lrscope: error: A...lrscope: error: A"
        pieces = [p for p in self._ERROR_START.split(line) if p]
        shown = []
        for piece in pieces:
            piece = piece if piece.endswith("\n") else piece + "\n"
            for prefix, found in (("lrscope: error:", self.user), ("lrscope: internal error:", self.internal)):
                if piece.startswith(prefix):
                    if piece not in found:
                        found.append(piece)
                    break
            else:
                shown.append(piece)
        return "".join(shown) or None

    def summary(self) -> list[str]:
        return self.user or self.internal or ["lrscope: error: a training process failed (torchrun exit code "
                                              "non-zero)\n"]
