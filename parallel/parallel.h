// minidp/parallel/parallel.h — the parallel layer: replicas, communicators, DataParallel.
#pragma once

#include "parallel/communicator.h"
#include "parallel/data_parallel.h"
#include "parallel/replica.h"
#include "parallel/sync_batchnorm.h"
