/* unary.c - operators of this group (not yet implemented). */
#include "op.h"

const ais__op_def ais__ops_unary[] = {
    {.name = NULL},
};
