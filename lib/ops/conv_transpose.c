/* conv_transpose.c - operators of this group (not yet implemented). */
#include "op.h"

const ais__op_def ais__ops_conv_transpose[] = {
    {.name = NULL},
};
