/*
 * fake_backend_plugin.c - a stand-in for libaistack_cuda.so built for another library version:
 * it answers the entry call as a real plugin of version 99.0.0 would, so test_backend_plugin can
 * check that the loader refuses it with a message (and never calls its table).
 */
#include <stdio.h>

#include "backend/backend_plugin.h"

__attribute__((visibility("default"))) int ais_cuda_plugin_entry(const ais__host_services *host,
                                                                 ais__plugin_info *info, char *err,
                                                                 size_t err_size);

int ais_cuda_plugin_entry(const ais__host_services *host, ais__plugin_info *info, char *err,
                          size_t err_size) {
    (void)host, (void)err, (void)err_size;
    info->abi = AIS__PLUGIN_ABI;
    info->lib_version = 990000; /* what a plugin of another release reports */
    info->backend = NULL;
    return 0; /* it does not check the host itself: the library must */
}
