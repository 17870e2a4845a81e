/* cnnrt_steal_next (cnnrt.h): fixed shares with stealing, against its contract rather than a
 * copy of its code. In every order the tasks' calls can come in, each unit must be handed out
 * exactly once, in pieces of 1..grain units, and a task's own share must come first, in order.
 * Pieces end on a multiple of `align` where one lies inside, and whatever the order, the pieces
 * are the same ones: those a task takes of its share when nobody steals (the kernels' results
 * depend on how their units are grouped). Then the same with real threads, through
 * cnnrt_threadpool.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cnnrt.h"
#include "cnnrt_threadpool.h"

#include "../kernel_test_util.h"

#define MAX_UNITS 1200

/* grid[u] = 1 where a piece starts when each task takes its own share with nobody stealing;
 * grid[units] = 1. */
static void undisturbed_grid(int64_t units, int64_t n, int64_t grain, int64_t align,
                             unsigned char *grid) {
  memset(grid, 0, MAX_UNITS + 1);
  for (int64_t t = 0; t < n; t++) {
    const int64_t s0 = units * t / n, s1 = units * (t + 1) / n;
    cnnrt_steal st;
    memset(&st, 0, sizeof st);
    int64_t lo, hi;
    for (int first = 1;
         cnnrt_steal_next(&st, units, n, t, grain, align, first, &lo, &hi) && lo >= s0 && hi <= s1;
         first = 0) {
      grid[lo] = 1;
    }
  }
  grid[units] = 1;
}

/* Checks one piece [lo, hi) that task t got; own = whether it lies in t's share. With a grid,
 * the piece must be one of its pieces: starting and ending on it, none inside. */
static void check_piece(int64_t units, int64_t n, int64_t t, int64_t grain, int64_t lo, int64_t hi,
                        int64_t *own_next, unsigned char *seen, const unsigned char *grid) {
  const int64_t s0 = units * t / n, s1 = units * (t + 1) / n;
  const int steal = n >= 2 && n <= CNNRT_STEAL_SLOTS; /* else the whole share at once */
  assert_true(lo >= 0 && lo < hi && hi <= units);
  assert_true(steal ? hi - lo <= grain : lo == s0 && hi == s1);
  if (lo >= s0 && hi <= s1) { /* own share: in order, from its front */
    assert_int_equal(lo, *own_next);
    *own_next = hi;
  } else {
    assert_true(steal);
    for (int64_t u = *own_next; u < s1; u++) { /* only once the own share is all taken */
      assert_int_equal(seen[u], 1);
    }
  }
  for (int64_t u = lo; u < hi; u++) {
    assert_int_equal(seen[u], 0);
    seen[u] = 1;
  }
  if (grid != NULL) {
    assert_int_equal(grid[lo], 1);
    assert_int_equal(grid[hi], 1);
    for (int64_t u = lo + 1; u < hi; u++) {
      assert_int_equal(grid[u], 0);
    }
  }
}

/* Every order of calls, drawn at random: `rounds` schedules of each configuration. */
static void test_random_orders(void **state) {
  (void)state;
  static const int64_t unit_counts[] = {0, 1, 5, 16, 97, 200, 1111};
  static const int64_t grains[] = {1, 3, 8, 28};
  static const int64_t aligns[] = {0, 1, 4, 14};
  unsigned char seen[MAX_UNITS], grid[MAX_UNITS + 1];
  for (int64_t n = 1; n <= CNNRT_STEAL_SLOTS + 2; n += (n < 5 ? 1 : 7)) {
    for (size_t ui = 0; ui < sizeof unit_counts / sizeof *unit_counts; ui++) {
      const int64_t units = unit_counts[ui];
      for (size_t gi = 0; gi < sizeof grains / sizeof *grains; gi++) {
        for (size_t ai = 0; ai < sizeof aligns / sizeof *aligns; ai++) {
          for (int round = 0; round < 6; round++) {
            const int64_t grain = grains[gi], align = aligns[ai];
            undisturbed_grid(units, n, grain, align, grid);
            cnnrt_steal st;
            memset(&st, 0, sizeof st);
            memset(seen, 0, sizeof seen);
            int first[CNNRT_STEAL_SLOTS + 2], done[CNNRT_STEAL_SLOTS + 2];
            int64_t own_next[CNNRT_STEAL_SLOTS + 2];
            for (int64_t t = 0; t < n; t++) {
              first[t] = 1;
              done[t] = 0;
              own_next[t] = units * t / n;
            }
            int64_t active = n;
            while (active > 0) {
              int64_t t = (int64_t)(urand_bits() % (uint64_t)n);
              while (done[t]) {
                t = (t + 1) % n;
              }
              int64_t lo = -1, hi = -1;
              if (cnnrt_steal_next(&st, units, n, t, grain, align, first[t], &lo, &hi)) {
                check_piece(units, n, t, grain, lo, hi, &own_next[t], seen, grid);
              } else {
                done[t] = 1;
                active--;
              }
              first[t] = 0;
            }
            for (int64_t u = 0; u < units; u++) {
              assert_int_equal(seen[u], 1);
            }
          }
        }
      }
    }
  }
}

/* Alignment: a piece shorter than grain and not the share's last ends on a multiple of align. A
 * thief takes the last piece of that grid, not the last `grain` units. */
static void test_alignment(void **state) {
  (void)state;
  assert_int_equal(cnnrt_steal_piece_end(3, 40, 14, 7), 14); /* 3 + 14 = 17: back to 14 */
  assert_int_equal(cnnrt_steal_piece_end(3, 12, 14, 7), 12); /* the rest fits: all of it */
  assert_int_equal(cnnrt_steal_piece_end(8, 13, 4, 7), 12);  /* no multiple inside: grain */
  assert_int_equal(cnnrt_steal_piece_end(29, 40, 9, 0), 38); /* no alignment */
  /* two tasks, 80 units, grain 14, align 7: task 0's share [0, 40) in pieces 0-14-28-40 */
  cnnrt_steal st;
  memset(&st, 0, sizeof st);
  int64_t lo, hi;
  for (int first = 1; cnnrt_steal_next(&st, 80, 2, 1, 14, 7, first, &lo, &hi) && lo >= 40;
       first = 0) { /* task 1 alone: its own share, then task 0's last piece */
  }
  assert_int_equal(lo, 28);
  assert_int_equal(hi, 40);
  assert_true(cnnrt_steal_next(&st, 80, 2, 0, 14, 7, 1, &lo, &hi)); /* task 0's front */
  assert_int_equal(lo, 0);
  assert_int_equal(hi, 14);
  assert_true(cnnrt_steal_next(&st, 80, 2, 1, 14, 7, 0, &lo, &hi)); /* 14-28, not 21-28 */
  assert_int_equal(lo, 14);
  assert_int_equal(hi, 28);
  assert_false(cnnrt_steal_next(&st, 80, 2, 0, 14, 7, 0, &lo, &hi));
}

/* Tasks run one after another in full (a serial hook, or a pool whose other threads have not
 * started yet): the first task's first pieces are its own share, then it takes the others' in
 * pieces from their backs, and the tasks after it get nothing. */
static void test_serial_run(void **state) {
  (void)state;
  cnnrt_steal st;
  memset(&st, 0, sizeof st);
  const int64_t units = 50, n = 3;
  unsigned char seen[64] = {0};
  int64_t own_next = units * 1 / n, lo, hi, pieces = 0;
  for (int first = 1; cnnrt_steal_next(&st, units, n, 1, 4, 0, first, &lo, &hi); first = 0) {
    check_piece(units, n, 1, 4, lo, hi, &own_next, seen, NULL);
    pieces++;
  }
  assert_int_equal(pieces, 5 + 5 + 4); /* its own 17 units, then task 2's 17 and task 0's 16 */
  for (int64_t t = 0; t < n; t += 2) {
    assert_int_equal(cnnrt_steal_next(&st, units, n, t, 4, 0, 1, &lo, &hi), 0);
  }
}

/* Real threads: each unit is counted by whichever thread claims it; every count must be 1.
 * Some units spin for a while, so that shares finish at different times and stealing happens. */
typedef struct steal_job {
  cnnrt_steal st;
  int64_t units, n_tasks, grain;
  int counts[MAX_UNITS];
  int64_t stolen; /* units taken outside the task's own share */
} steal_job;

static void steal_task(void *arg, int64_t t) {
  steal_job *j = (steal_job *)arg;
  const int64_t s0 = j->units * t / j->n_tasks, s1 = j->units * (t + 1) / j->n_tasks;
  int64_t lo, hi;
  for (int first = 1;
       cnnrt_steal_next(&j->st, j->units, j->n_tasks, t, j->grain, 0, first, &lo, &hi); first = 0) {
    for (int64_t u = lo; u < hi; u++) {
      __atomic_add_fetch(&j->counts[u], 1, __ATOMIC_RELAXED);
      volatile int64_t spin = 0;
      for (int64_t i = 0; i < (t == 0 ? 20000 : 200); i++) { /* task 0 is slow */
        spin += i;
      }
      if (u < s0 || u >= s1) {
        __atomic_add_fetch(&j->stolen, 1, __ATOMIC_RELAXED);
      }
    }
  }
}

static void test_threads(void **state) {
  (void)state;
  for (int threads = 2; threads <= 4; threads++) {
    cnnrt_threadpool pool;
    assert_int_equal(cnnrt_threadpool_start(&pool, threads), 0);
    cnnrt_parallel par = cnnrt_threadpool_hook(&pool);
    int64_t stolen = 0;
    for (int rep = 0; rep < 20; rep++) {
      steal_job *j = calloc(1, sizeof *j);
      assert_non_null(j);
      j->units = 1000;
      j->n_tasks = threads;
      j->grain = 1 + rep % 5;
      cnnrt_parallel_for(&par, steal_task, j, j->n_tasks);
      for (int64_t u = 0; u < j->units; u++) {
        assert_int_equal(j->counts[u], 1);
      }
      stolen += j->stolen;
      free(j);
    }
    cnnrt_threadpool_stop(&pool);
    /* task 0 runs 100x slower per unit: the others must have taken over some of its share */
    assert_true(stolen > 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_orders),
      cmocka_unit_test(test_alignment),
      cmocka_unit_test(test_serial_run),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
