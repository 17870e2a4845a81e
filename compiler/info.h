/* info.h — `cnncc --info`: operators, parameters, MACs per layer, arena size. */
#ifndef CN_INFO_H
#define CN_INFO_H

#include <stdio.h>

#include "pipeline.h"

/* Multiply-accumulates one run of node n performs (0 for data movement). */
int64_t cn_node_macs(const cn_graph *g, const cn_node *n);
int cn_print_info(const cn_options *opt, FILE *out);

#endif
