// minidp/nn/nn.h — everything of the nn layer: modules and layers, losses,
// initialisation, optimizers and schedules, data sets and loaders, checkpoints
// (of tensors, and of a whole training run).
#pragma once

#include "minidp/nn/init.h"
#include "minidp/nn/layers.h"
#include "minidp/nn/loss.h"
#include "minidp/nn/module.h"
#include "minidp/nn/optim/adam.h"
#include "minidp/nn/optim/optimizer.h"
#include "minidp/nn/optim/scheduler.h"
#include "minidp/nn/optim/sgd.h"
#include "minidp/nn/data/data.h"
#include "minidp/nn/checkpoint.h"
#include "minidp/nn/training_state.h"
