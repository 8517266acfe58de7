"""Batch normalisation whose statistics cover the active sites of every rank.

With ``--sync-bn`` each rank of a data-parallel trial normalises a layer with the mean and
variance of all ranks' sites, so R ranks holding a share of the batch each compute what one
rank computes on the whole batch, statistics included. The sums travel through an
all_reduce whose backward sums the gradients of the statistics over ranks (every rank's loss
depends on every rank's sites), so the backward pass is exact as well. ``kernels`` knows
nothing of ranks: this layer wraps its ``SparseBatchNorm`` here.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from kernels import SparseBatchNorm, SparseTensor


class _SumOverRanks(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over ranks, differentiable."""
    return _SumOverRanks.apply(tensor)


class SyncSparseBatchNorm(SparseBatchNorm):
    """``SparseBatchNorm`` with statistics over all ranks while training; per rank otherwise."""

    def forward(self, x: SparseTensor) -> SparseTensor:  # type: ignore[override]
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        feats = x.feats
        # Two rounds (sum, then squared deviations from the global mean) rather than one
        # with sums of squares, which cancel badly when the mean is large.
        sums = all_reduce(torch.cat([feats.sum(0), feats.new_full((1,), len(feats))]))
        count = sums[-1]
        mean = sums[:-1] / count
        centred = feats - mean
        var = all_reduce((centred * centred).sum(0)) / count
        out = centred * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        if self.track_running_stats:
            self._track(mean.detach(), var.detach() * count / (count - 1).clamp(min=1))
        return x.replace(out)

    def _track(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        """The running statistics, updated as ``nn.BatchNorm1d`` updates them."""
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        with torch.no_grad():
            self.num_batches_tracked += 1
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)
            self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
            self.running_var.mul_(1 - factor).add_(unbiased_var, alpha=factor)


def sync_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every ``SparseBatchNorm`` replaced by a ``SyncSparseBatchNorm`` holding
    the same parameters and statistics (on the CPU: call it before the model moves to its
    device and before the optimiser is built)."""
    for name, child in module.named_children():
        if type(child) is SparseBatchNorm:
            synced = SyncSparseBatchNorm(child.num_features, child.eps, child.momentum,
                                         child.affine, child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        else:
            sync_batch_norm(child)
    return module
