// minidp.h — the whole minidp API in one include.
//
//   #include <minidp.h>
//   using namespace minidp;
//
// Layers, each using only those above it:
//   core/      Tensor, devices and streams, autograd, the differentiable ops
//   kernels/   the compute behind the ops (cpu: Eigen and loops; cuda: cuBLAS, cuDNN, own kernels)
//   nn/        modules, losses, optimizers, data sets and loaders, checkpoints
//   parallel/  communicators and DataParallel
//   metrics/   quality and speed metrics, reports
#pragma once

#include "core/autograd.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/stream.h"
#include "core/tensor.h"
#include "nn/nn.h"
#include "parallel/parallel.h"
#include "metrics/metrics.h"
