/*
 * aistack_ops.c - `aistack ops`: lists the operator registry.
 */
#include <aistack/aistack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_tool.h"

const char tool_usage_ops[] =
    "usage: aistack ops\n"
    "\n"
    "Lists the registered operators: domain, name and the opset versions each entry\n"
    "implements from.\n";

int tool_cmd_ops(int argc, char **argv) {
    (void)argv;
    if (argc) {
        fputs(tool_usage_ops, stderr);
        return 2;
    }
    for (size_t i = 0; i < ais_op_count(); i++) {
        const char *domain, *name;
        int64_t since;
        if (ais_op_info(i, &domain, &name, &since) != AIS_OK) continue;
        printf("%-12s %-28s since opset %lld\n", domain[0] ? domain : "ai.onnx", name,
               (long long)since);
    }
    return 0;
}
