// minidp/nn/data/data.h — data sets and loaders in one include.
//
//   Dataset full = fashion_mnist();                          // idx.h
//   auto [train, val] = train_val_split(full, 0.1, 0);        // split.h
//   DataLoaderOptions o;  o.transform = Transform::fashion_mnist();
//   DataLoader loader(train, o);                              // loader.h
//   for (Batch& b : loader) { ... }
#pragma once

#include "minidp/nn/data/cifar.h"
#include "minidp/nn/data/csv.h"
#include "minidp/nn/data/dataset.h"
#include "minidp/nn/data/file_io.h"
#include "minidp/nn/data/idx.h"
#include "minidp/nn/data/loader.h"
#include "minidp/nn/data/sampler.h"
#include "minidp/nn/data/split.h"
#include "minidp/nn/data/transform.h"
