/* autodiff.h — reverse-mode differentiation as a graph-to-graph pass.
 *
 * cn_autodiff appends to a shape-inferred forward graph the nodes that compute vector-Jacobian
 * products: for each root value r with upstream gradient seed(r), the gradient of
 * sum_r <seed(r), r> with respect to each requested value. The nodes it adds are ordinary IR ops
 * (ConvTranspose for a convolution's data gradient, conv_grad_filter, max_pool_grad, act_grad,
 * ReduceSum + Reshape for broadcasting adjoints, ...) marked `backward`, already shape-inferred,
 * in an order that is topological (forward nodes first, then the backward ones). Later passes
 * (fusion, scheduling, the memory plan) treat them like any other node. */
#ifndef CN_AUTODIFF_H
#define CN_AUTODIFF_H

#include "../ir.h"

typedef struct cn_autodiff_opts {
  /* What to differentiate: n_roots values, each with the value holding its upstream gradient
   * (same shape and dtype float32; any kind of value: a graph/backward input, a constant, or a
   * value computed by a node such as a loss gradient). A root seed of -1 means "1.0" and needs
   * a scalar (one-element) root, e.g. a loss. */
  int n_roots;
  const int *roots;
  const int *root_seeds;
  /* With respect to what: float32 values (graph inputs, initializers, any forward value). */
  int n_wrt;
  const int *wrt;
} cn_autodiff_opts;

/* Appends the backward nodes and stores in grads[i] the value holding the gradient of wrt[i]
 * (-1 when no differentiable path leads from wrt[i] to a root: the gradient is zero). Gradient
 * values are named "grad_<name>" (made unique). Returns false after reporting (through d) an op
 * with no gradient rule on a differentiable path. */
bool cn_autodiff(cn_graph *g, const cn_autodiff_opts *o, int *grads, cn_diag *d);

/* --grad: differentiates the graph outputs with respect to every float32 graph input and every
 * float32 initializer that a live node reads. Adds one seed input per float output
 * (g->seeds, named "grad_<output>") and records the results in g->grads / g->grad_wrt. */
bool cn_pass_autodiff_outputs(cn_graph *g, cn_diag *d);

/* --checkpoint (compiler/passes/checkpoint.c): after cn_autodiff, keeps only some forward
 * values alive for the backward nodes and recomputes the others right before the first backward
 * node that needs them (copies of the forward nodes, marked backward). spec: NULL, "" or "auto"
 * (about sqrt(N) segments of the N forward nodes), "every:K" (segments of K forward nodes), or a
 * comma-separated list of the value names to keep. Returns false after reporting a bad spec. */
bool cn_pass_checkpoint(cn_graph *g, const char *spec, cn_diag *d);

/* Whether op is differentiable at all (integer/shape ops are not: no gradient flows). */
bool cn_op_has_grad(cn_op op);

#endif
