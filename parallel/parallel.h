// minidp/parallel/parallel.h — the parallel layer: replicas, communicators,
// DataParallel (one process), DistributedDataParallel (one process per device).
#pragma once

#include "parallel/communicator.h"
#include "parallel/data_parallel.h"
#include "parallel/distributed.h"
#include "parallel/process_group.h"
#include "parallel/replica.h"
#include "parallel/sync_batchnorm.h"
