// minidp/parallel/parallel.h — the parallel layer: replicas, communicators,
// DataParallel (one process), DistributedDataParallel (one process per device).
#pragma once

#include "minidp/parallel/agreement.h"
#include "minidp/parallel/communicator.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/distributed.h"
#include "minidp/parallel/process_group.h"
#include "minidp/parallel/replica.h"
#include "minidp/parallel/sync_batchnorm.h"
#include "minidp/parallel/zero.h"
