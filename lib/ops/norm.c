/* norm.c - operators of this group (not yet implemented). */
#include "op.h"

const ais__op_def ais__ops_norm[] = {
    {.name = NULL},
};
