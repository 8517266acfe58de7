"""Sparse tensors and sparse convolution in pure PyTorch (CPU, CUDA, XPU).

Kernel maps are built from sorted int64 coordinate keys and cached on the coordinate
manager that the tensors of one forward pass share; the convolution is a gather-GEMM-scatter
per kernel offset with a custom backward, deterministic at any thread count, writing into
workspaces that the manager's layers share (``kernels.workspace``).
"""

from __future__ import annotations

from kernels.cat import cat
from kernels.conv import SparseConv, SparseInverseConv, SubMConv
from kernels.dense import from_dense, to_dense
from kernels.featurewise import FeatureWise, SparseReLU
from kernels.norm import SparseBatchNorm
from kernels.pool import SparseAvgPool, SparseMaxPool, global_pool
from kernels.tensor import SparseTensor
from kernels.workspace import release_workspaces, set_kept_gather_limit

__all__ = [
    "FeatureWise",
    "SparseAvgPool",
    "SparseBatchNorm",
    "SparseConv",
    "SparseInverseConv",
    "SparseMaxPool",
    "SparseReLU",
    "SparseTensor",
    "SubMConv",
    "cat",
    "from_dense",
    "global_pool",
    "release_workspaces",
    "set_kept_gather_limit",
    "to_dense",
]
