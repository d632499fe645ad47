// minidp/nn/nn.h — everything of the nn layer: modules and layers, losses,
// initialisation, optimizers and schedules, data sets and loaders, checkpoints
// (of tensors, and of a whole training run).
#pragma once

#include "nn/init.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/module.h"
#include "nn/optim/adam.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
#include "nn/data/data.h"
#include "nn/checkpoint.h"
#include "nn/training_state.h"
