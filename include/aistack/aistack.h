/*
 * aistack.h - the whole public API of libaistack. Anything not declared in include/aistack/ is
 * not API.
 *
 *   ais_base.h     version, status codes, error messages, allocator, logging, threads
 *   ais_tensor.h   tensors and DLPack exchange
 *   ais_ops.h      running one operator eagerly
 *   ais_model.h    loading models, sessions, running them
 *   ais_pipeline.h feature pipelines: typed records or columns to a model's input tensor
 *   ais_monitor.h  metrics (Prometheus text), drift statistics
 */
#ifndef AISTACK_AISTACK_H
#define AISTACK_AISTACK_H

#include "ais_base.h"
#include "ais_tensor.h"
#include "ais_ops.h"
#include "ais_model.h"
#include "ais_pipeline.h"
#include "ais_text.h"
#include "ais_monitor.h"

#endif /* AISTACK_AISTACK_H */
