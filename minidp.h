// minidp.h — the whole minidp API in one include.
//
//   #include <minidp/minidp.h>
//   using namespace minidp;
//
// The layers:
//   core/      Tensor, devices and streams, autograd, the differentiable ops
//   kernels/   the compute behind the ops (cpu: Eigen and loops; cuda: cuBLAS, cuDNN, own kernels)
//   nn/        modules, losses, optimizers, data sets and loaders, checkpoints
//   parallel/  communicators and DataParallel
//   metrics/   quality and speed metrics, reports
// Each uses only those listed above it, with one pair that leans on each
// other: core/ and kernels/. An op in core/ops/ validates its inputs and
// calls a kernel; a kernel sees Tensors (core/tensor.h) and the option structs
// of the ops (Conv2dOptions in core/ops.h) — geometry, never autograd. The
// public API is core/ and up; kernels/ is what it runs on.
#pragma once

#include "minidp/core/autograd.h"
#include "minidp/core/device.h"
#include "minidp/core/dtype.h"
#include "minidp/core/error.h"
#include "minidp/core/ops.h"
#include "minidp/core/rng.h"
#include "minidp/core/stream.h"
#include "minidp/core/tensor.h"
#include "minidp/core/version.h"
#include "minidp/nn/nn.h"
#include "minidp/parallel/parallel.h"
#include "minidp/metrics/metrics.h"
