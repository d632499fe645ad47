// minidp/nn/data/data.h — data sets and loaders in one include.
//
//   Dataset full = fashion_mnist();                          // idx.h
//   auto [train, val] = train_val_split(full, 0.1, 0);        // split.h
//   DataLoaderOptions o;  o.transform = Transform::fashion_mnist();
//   DataLoader loader(train, o);                              // loader.h
//   for (Batch& b : loader) { ... }
#pragma once

#include "nn/data/cifar.h"
#include "nn/data/csv.h"
#include "nn/data/dataset.h"
#include "nn/data/file_io.h"
#include "nn/data/idx.h"
#include "nn/data/loader.h"
#include "nn/data/sampler.h"
#include "nn/data/split.h"
#include "nn/data/transform.h"
