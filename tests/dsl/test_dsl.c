/* test_dsl.c — the .cnn front end: the IR it builds, and its error messages to the character
 * (file:line:col, the source line, the caret), several per run, never a crash. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "frontends/dsl/dsl.h"

/* Loads `src` as "t.cnn"; returns the graph (or NULL) and sets *messages to what was printed
 * (caller frees). */
static cn_graph *load(const char *src, char **messages, int *errors) {
  size_t len = 0;
  char *text = NULL;
  FILE *mem = open_memstream(&text, &len);
  assert_non_null(mem);
  cn_diag d;
  cn_diag_init(&d, "t.cnn");
  d.out = mem;
  cn_dsl_options opt = {0};
  opt.no_files = true;
  cn_graph *g = cn_dsl_load_buffer(src, strlen(src), "t.cnn", &opt, &d);
  fclose(mem);
  *messages = text;
  if (errors) {
    *errors = d.errors;
  }
  return g;
}

/* The source must fail with exactly `expected` printed. */
static void expect_errors(const char *src, const char *expected) {
  char *msg = NULL;
  int errors = 0;
  cn_graph *g = load(src, &msg, &errors);
  assert_null(g);
  assert_true(errors > 0);
  if (strcmp(msg, expected) != 0) {
    fprintf(stderr, "--- got:\n%s--- expected:\n%s---\n", msg, expected);
  }
  assert_string_equal(msg, expected);
  free(msg);
}

static const cn_value *value(const cn_graph *g, const char *name) {
  int id = cn_value_find(g, name);
  if (id < 0) {
    fprintf(stderr, "no value '%s'\n", name);
  }
  assert_true(id >= 0);
  return &g->values[id];
}

static void assert_shape(const cn_value *v, int rank, const int64_t *dims) {
  assert_int_equal(v->rank, rank);
  for (int i = 0; i < rank; i++) {
    assert_int_equal(v->dims[i], dims[i]);
  }
}

static void test_lenet_graph(void **state) {
  (void)state;
  const char *src = "# LeNet\n"
                    "model lenet\n"
                    "input image: f32[1, 1, 28, 28]\n"
                    "x = conv2d(image, 6, kernel=5, pad=2) as c1 -> relu -> maxpool(2)\n"
                    "x = conv2d(x, 16, kernel=5, pad=0) as c3 -> relu -> maxpool(2)\n"
                    "x = flatten(x)\n"
                    "output logits = linear(x, 10) as fc\n";
  char *msg = NULL;
  cn_graph *g = load(src, &msg, NULL);
  assert_string_equal(msg, "");
  assert_non_null(g);
  assert_string_equal(g->name, "lenet");
  assert_int_equal(g->opset, 17);
  static const cn_op ops[] = {CN_OP_CONV, CN_OP_RELU, CN_OP_MAX_POOL, CN_OP_CONV,
                              CN_OP_RELU, CN_OP_MAX_POOL, CN_OP_FLATTEN, CN_OP_GEMM};
  assert_int_equal(g->n_nodes, 8);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(g->nodes[i].op, ops[i]);
  }
  assert_int_equal(g->n_inputs, 1);
  assert_string_equal(g->values[g->inputs[0]].name, "image");
  assert_int_equal(g->n_outputs, 1);
  assert_string_equal(g->values[g->outputs[0]].name, "logits");
  assert_shape(value(g, "c1.weight"), 4, (int64_t[]){6, 1, 5, 5});
  assert_shape(value(g, "c3.weight"), 4, (int64_t[]){16, 6, 5, 5});
  assert_shape(value(g, "fc.weight"), 2, (int64_t[]){10, 400});
  assert_shape(value(g, "fc.bias"), 1, (int64_t[]){10});
  assert_shape(value(g, "logits"), 2, (int64_t[]){1, 10});
  assert_int_equal(value(g, "fc.weight")->kind, CN_VALUE_CONST);
  /* PyTorch's bound for Linear(400, 10): 1/sqrt(400) */
  const cn_value *w = value(g, "fc.weight");
  float lo = 1, hi = -1;
  for (int i = 0; i < 4000; i++) {
    float f = ((const float *)w->data)[i];
    lo = f < lo ? f : lo;
    hi = f > hi ? f : hi;
  }
  assert_true(lo >= -0.05f && hi <= 0.05f && hi - lo > 0.09f);
  cn_graph_free(g);
  free(msg);
}

static void test_blocks_repeat_names(void **state) {
  (void)state;
  const char *src = "input x: f32[1, 8, 16, 16]\n"
                    "block unit(x, c, stride=1) {\n"
                    "  y = conv2d(x, c, stride=stride, bias=false) as conv -> batchnorm as bn\n"
                    "  if stride != 1 || x[1] != c {\n"
                    "    x = conv2d(x, c, kernel=1, stride=stride, bias=false) as short.0\n"
                    "  }\n"
                    "  return relu(y + x)\n"
                    "}\n"
                    "widths = [8, 16]\n"
                    "repeat 2 as s {\n"
                    "  repeat 2 as i {\n"
                    "    x = unit(x, widths[s], stride=i == 0 && s > 0 ? 2 : 1) as (\"stage\" + s).(i)\n"
                    "  }\n"
                    "}\n"
                    "parts = split(x, 2)\n"
                    "a, b = split(x, [4, 12], axis=1)\n"
                    "output y = concat(b, a, parts[0])\n";
  char *msg = NULL;
  cn_graph *g = load(src, &msg, NULL);
  assert_string_equal(msg, "");
  assert_non_null(g);
  assert_shape(value(g, "stage0.0.conv.weight"), 4, (int64_t[]){8, 8, 3, 3});
  assert_shape(value(g, "stage0.1.bn.running_var"), 1, (int64_t[]){8});
  assert_shape(value(g, "stage1.0.conv.weight"), 4, (int64_t[]){16, 8, 3, 3});
  assert_shape(value(g, "stage1.0.short.0.weight"), 4, (int64_t[]){16, 8, 1, 1});
  assert_int_equal(cn_value_find(g, "stage0.0.short.0.weight"), -1); /* no shortcut conv */
  assert_int_equal(cn_value_find(g, "stage1.1.short.0.weight"), -1);
  assert_shape(value(g, "y"), 4, (int64_t[]){1, 24, 8, 8});
  cn_graph_free(g);
  free(msg);
}

static void test_output_names(void **state) {
  (void)state;
  /* `x` is assigned three times, then output: the graph output is called x; an input output
   * directly gets an Identity of its own name */
  const char *src = "input image: f32[1, 4]\n"
                    "x = relu(image)\n"
                    "x = sigmoid(x)\n"
                    "x = x * 2\n"
                    "output x\n"
                    "output raw = image\n";
  char *msg = NULL;
  cn_graph *g = load(src, &msg, NULL);
  assert_string_equal(msg, "");
  assert_non_null(g);
  assert_int_equal(g->n_outputs, 2);
  const cn_value *x = &g->values[g->outputs[0]];
  assert_string_equal(x->name, "x");
  assert_int_equal(g->nodes[x->producer].op, CN_OP_MUL);
  assert_int_equal(cn_value_find(g, "x"), g->outputs[0]); /* (the name index agrees) */
  const cn_value *raw = &g->values[g->outputs[1]];
  assert_string_equal(raw->name, "raw");
  assert_int_equal(g->nodes[raw->producer].op, CN_OP_IDENTITY);
  cn_graph_free(g);
  free(msg);
}

static void test_recursion_split_upsample_avgpool(void **state) {
  (void)state;
  /* a block calling itself a bounded number of times, tuple assignment from split, tensor
   * arithmetic with numbers, avgpool (found by the fuzzer: it has no 'dilation' argument) */
  const char *src = "input x: f32[1, 2, 4, 4]\n"
                    "block f(x, n=3) {\n"
                    "  if n > 0 {\n"
                    "    x = f(x, n - 1) as (n)\n"
                    "  }\n"
                    "  return x -> conv2d(2, kernel=[1, 3], pad=[0, 1]) -> relu\n"
                    "}\n"
                    "a, b = split(f(x), [1, 1])\n"
                    "c = concat(a, b, a, axis=1) * 0.5 - 1\n"
                    "d = upsample(c, scale=[2, 1], mode=\"bilinear\") -> avgpool(2, stride=1, "
                    "pad=\"same\")\n"
                    "e = reshape(d, shape=[1, -1]) -> linear(4) -> softmax\n"
                    "repeat 3 as i { e = e + i }\n"
                    "output e\n";
  char *msg = NULL;
  cn_graph *g = load(src, &msg, NULL);
  assert_string_equal(msg, "");
  assert_non_null(g);
  assert_shape(value(g, "d"), 4, (int64_t[]){1, 3, 8, 4});
  assert_shape(value(g, "e"), 2, (int64_t[]){1, 4});
  assert_shape(value(g, "f.3.2.1.conv2d.weight"), 4, (int64_t[]){2, 2, 1, 3});
  cn_graph_free(g);
  free(msg);
}

static void test_train_section(void **state) {
  (void)state;
  const char *src = "input x: f32[1, 4]\n"
                    "output y = linear(x, 2)\n"
                    "train {\n"
                    "  loss = cross_entropy   # a comment\n"
                    "\n"
                    "  lr-schedule: cosine\n"
                    "  freeze = conv1, bn1\n"
                    "}\n";
  char *msg = NULL;
  cn_graph *g = load(src, &msg, NULL);
  assert_string_equal(msg, "");
  assert_non_null(g);
  assert_int_equal(g->n_train_decls, 3);
  assert_string_equal(g->train_decls[0].key, "loss");
  assert_string_equal(g->train_decls[0].value, "cross_entropy");
  assert_int_equal(g->train_decls[0].line, 4);
  assert_int_equal(g->train_decls[0].col, 3);
  assert_string_equal(g->train_decls[1].key, "lr-schedule");
  assert_string_equal(g->train_decls[1].value, "cosine");
  assert_string_equal(g->train_decls[2].key, "freeze");
  assert_string_equal(g->train_decls[2].value, "conv1, bn1");
  assert_int_equal(g->train_decls[2].line, 7);
  cn_graph_free(g);
  free(msg);
}

static void test_seed_determinism(void **state) {
  (void)state;
  const char *a = "seed 3\ninput x: f32[1, 4]\noutput y = linear(x, 3) as fc\n";
  const char *b = "seed 3\ninput x: f32[1, 4]\nz = linear(x, 7) as other\n"
                  "output y = linear(x, 3) as fc\n";
  const char *c = "seed 4\ninput x: f32[1, 4]\noutput y = linear(x, 3) as fc\n";
  char *m1, *m2, *m3;
  cn_graph *g1 = load(a, &m1, NULL), *g2 = load(b, &m2, NULL), *g3 = load(c, &m3, NULL);
  assert_non_null(g1);
  assert_non_null(g2);
  assert_non_null(g3);
  /* by name: other layers do not shift the values; another seed changes them */
  assert_memory_equal(value(g1, "fc.weight")->data, value(g2, "fc.weight")->data, 12 * 4);
  assert_memory_not_equal(value(g1, "fc.weight")->data, value(g3, "fc.weight")->data, 12 * 4);
  cn_graph_free(g1);
  cn_graph_free(g2);
  cn_graph_free(g3);
  free(m1);
  free(m2);
  free(m3);
}

static void test_error_shape(void **state) {
  (void)state;
  expect_errors("input x: f32[1, 784]\n"
                "y = conv2d(x, 16, kernel=3)\n"
                "output y\n",
                "t.cnn:2:12: error: conv2d expects a 4-D input, got [1, 784]\n"
                "  y = conv2d(x, 16, kernel=3)\n"
                "             ^\n");
}

static void test_error_syntax_recovers(void **state) {
  (void)state;
  /* one error per bad statement; an unclosed '(' runs on into the next line (w = 1); names that
   * bad statements define (y, z, broken) give no further errors where they are used */
  expect_errors("input x: f32[1, 3, 8, 8]\n"
                "y = conv2d(x, 8,, kernel=3)\n"
                "z = relu(x\n"
                "\n"
                "w = 1\n"
                "v = 3 $ 4\n"
                "block broken(t {\n"
                "  return t\n"
                "}\n"
                "q = broken(y) + z\n"
                "output x\n",
                "t.cnn:2:17: error: expected an expression, got ','\n"
                "  y = conv2d(x, 8,, kernel=3)\n"
                "                  ^\n"
                "t.cnn:3:9: error: this '(' is never closed\n"
                "  z = relu(x\n"
                "          ^\n"
                "t.cnn:6:7: error: unexpected character '$'\n"
                "  v = 3 $ 4\n"
                "        ^\n"
                "t.cnn:7:16: error: expected ')' to close the block's parameters, got '{'\n"
                "  block broken(t {\n"
                "                 ^\n");
}

static void test_error_unknown_op_and_argument(void **state) {
  (void)state;
  expect_errors("input x: f32[1, 3, 8, 8]\n"
                "a = relus(x)\n"
                "b = conv2d(x, 8, strde=2)\n"
                "c = maxpool(x, 2) -> frobnicate\n"
                "output a\n",
                "t.cnn:2:5: error: unknown operator or block 'relus'; did you mean 'relu'?\n"
                "  a = relus(x)\n"
                "      ^\n"
                "t.cnn:3:18: error: conv2d has no argument 'strde'; did you mean 'stride'?\n"
                "  b = conv2d(x, 8, strde=2)\n"
                "                   ^\n"
                "t.cnn:4:22: error: unknown operator or block 'frobnicate'\n"
                "  c = maxpool(x, 2) -> frobnicate\n"
                "                       ^\n");
}

static void test_error_arity(void **state) {
  (void)state;
  expect_errors("input x: f32[1, 3, 8, 8]\n"
                "a = add(x)\n"
                "b = relu(x, x)\n"
                "block blk(t, c) {\n"
                "  return conv2d(t, c)\n"
                "}\n"
                "d = blk(x)\n"
                "e = blk(x, 4, 5)\n"
                "output x\n",
                "t.cnn:2:5: error: add expects 2 inputs, got 1\n"
                "  a = add(x)\n"
                "      ^\n"
                "t.cnn:3:13: error: relu takes at most 1 positional argument, got 2\n"
                "  b = relu(x, x)\n"
                "              ^\n"
                "t.cnn:7:5: error: block 'blk': missing argument 'c'\n"
                "  d = blk(x)\n"
                "      ^\n"
                "t.cnn:8:15: error: block 'blk' takes 2 arguments, got 3\n"
                "  e = blk(x, 4, 5)\n"
                "                ^\n");
}

static void test_error_broadcast_and_types(void **state) {
  (void)state;
  expect_errors("input x: f32[1, 3, 8, 8]\n"
                "d = conv2d(x, 8) + conv2d(x, 4)\n"
                "e = conv2d(x, \"eight\")\n"
                "f = undefined_name + 1\n"
                "output x\n",
                "t.cnn:2:18: error: add: shapes [1, 8, 8, 8] and [1, 4, 8, 8] do not broadcast\n"
                "  d = conv2d(x, 8) + conv2d(x, 4)\n"
                "                   ^\n"
                "t.cnn:3:15: error: conv2d: argument 'out' must be an integer, not a string\n"
                "  e = conv2d(x, \"eight\")\n"
                "                ^\n"
                "t.cnn:4:5: error: 'undefined_name' is not defined\n"
                "  f = undefined_name + 1\n"
                "      ^\n");
}

static void test_error_train_and_structure(void **state) {
  (void)state;
  expect_errors("input x: f32[1, 4]\n"
                "train {\n"
                "  optimiser = adam\n"
                "  lr = 0.1\n"
                "  lr = 0.2\n"
                "}\n",
                "t.cnn:3:3: error: unknown training option 'optimiser'; did you mean 'optimizer'?\n"
                "    optimiser = adam\n"
                "    ^\n"
                "t.cnn:5:3: error: training option 'lr' is set twice (first on line 4)\n"
                "    lr = 0.2\n"
                "    ^\n");
  expect_errors("input x: f32[1, 4]\n",
                "t.cnn:2:1: error: the model has no outputs (add e.g. 'output y')\n"
                "  \n"
                "  ^\n");
}

static void test_error_recursion_and_limits(void **state) {
  (void)state;
  expect_errors("input x: f32[1, 4]\n"
                "block f(t) {\n"
                "  return f(t)\n"
                "}\n"
                "output y = f(x)\n",
                "t.cnn:3:10: error: block calls nested more than 48 deep (is 'f' recursive?)\n"
                "    return f(t)\n"
                "           ^\n");
  expect_errors("input x: f32[1, 4]\n"
                "n = 9223372036854775807 + 1\n"
                "k = 5 / 0\n"
                "output x\n",
                "t.cnn:2:25: error: integer overflow\n"
                "  n = 9223372036854775807 + 1\n"
                "                          ^\n"
                "t.cnn:3:7: error: division by zero\n"
                "  k = 5 / 0\n"
                "        ^\n");
}

/* Inputs the fuzzer (tests/fuzz/fuzz_dsl_parse.c) once crashed or hung on: each is read as the
 * fuzzer reads it, must finish quickly and either give a graph or report errors. */
static void test_fuzz_regressions(void **state) {
  (void)state;
  DIR *dir = opendir(CNNCC_DSL_REGRESSIONS);
  assert_non_null(dir);
  int n = 0;
  struct dirent *ent;
  while ((ent = readdir(dir)) != NULL) {
    if (ent->d_name[0] == '.') {
      continue;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CNNCC_DSL_REGRESSIONS, ent->d_name);
    size_t len = 0;
    unsigned char *data = cn_read_file(path, &len);
    assert_non_null(data);
    cn_diag d;
    cn_diag_init(&d, "fuzz.cnn");
    d.quiet = true;
    cn_dsl_options opt = {0};
    opt.no_files = true;
    opt.max_param_elements = INT64_C(1) << 22;
    clock_t t0 = clock();
    cn_graph *g = cn_dsl_load_buffer((const char *)data, len, "fuzz.cnn", &opt, &d);
    double seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (seconds > 2.0) {
      fprintf(stderr, "%s took %.1f s\n", ent->d_name, seconds);
    }
    assert_true(seconds <= 2.0);
    assert_true(g != NULL || cn_diag_failed(&d));
    cn_graph_free(g);
    free(data);
    n++;
  }
  closedir(dir);
  assert_true(n >= 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lenet_graph),
      cmocka_unit_test(test_blocks_repeat_names),
      cmocka_unit_test(test_output_names),
      cmocka_unit_test(test_recursion_split_upsample_avgpool),
      cmocka_unit_test(test_train_section),
      cmocka_unit_test(test_seed_determinism),
      cmocka_unit_test(test_error_shape),
      cmocka_unit_test(test_error_syntax_recovers),
      cmocka_unit_test(test_error_unknown_op_and_argument),
      cmocka_unit_test(test_error_arity),
      cmocka_unit_test(test_error_broadcast_and_types),
      cmocka_unit_test(test_error_train_and_structure),
      cmocka_unit_test(test_error_recursion_and_limits),
      cmocka_unit_test(test_fuzz_regressions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
