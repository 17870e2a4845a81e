/* cnnrt_threadpool.h — an optional, tiny pthread pool that implements the cnnrt_parallel hook.
 *
 *   cnnrt_threadpool pool;
 *   cnnrt_threadpool_start(&pool, 2);               // the caller's thread counts as one
 *   cnnrt_parallel par = cnnrt_threadpool_hook(&pool);
 *   model_run_parallel(arena, NULL, inputs, outputs, &par);
 *   cnnrt_threadpool_stop(&pool);
 *
 * Only applications that want it include this header (and link -lpthread); generated model code
 * never does, so builds without threads have no pthread dependency. One parallel region runs at
 * a time per pool; tasks are handed out dynamically from an atomic-free counter under the lock,
 * which is cheap next to the layer-sized tasks generated code creates. */
#ifndef CNNRT_THREADPOOL_H
#define CNNRT_THREADPOOL_H

#include <pthread.h>

#include "cnnrt.h"

#define CNNRT_THREADPOOL_MAX 64

typedef struct cnnrt_threadpool {
  pthread_mutex_t lock;
  pthread_cond_t work_ready; /* workers wait here for a new generation */
  pthread_cond_t work_done;  /* the caller waits here for the region to finish */
  pthread_t threads[CNNRT_THREADPOOL_MAX];
  int n_workers; /* threads besides the caller */
  int stopping;
  unsigned generation; /* bumped per parallel region */
  cnnrt_task_fn fn;
  void *arg;
  int64_t n_tasks, next_task, done_tasks;
} cnnrt_threadpool;

/* Runs tasks of the current region until none is left. Called with the lock held. */
static inline void cnnrt_threadpool_drain_(cnnrt_threadpool *p) {
  while (p->next_task < p->n_tasks) {
    int64_t t = p->next_task++;
    cnnrt_task_fn fn = p->fn;
    void *arg = p->arg;
    pthread_mutex_unlock(&p->lock);
    fn(arg, t);
    pthread_mutex_lock(&p->lock);
    if (++p->done_tasks == p->n_tasks) {
      pthread_cond_signal(&p->work_done);
    }
  }
}

static inline void *cnnrt_threadpool_worker_(void *opaque) {
  cnnrt_threadpool *p = (cnnrt_threadpool *)opaque;
  unsigned seen = 0;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stopping && p->generation == seen) {
      pthread_cond_wait(&p->work_ready, &p->lock);
    }
    if (p->stopping) {
      break;
    }
    seen = p->generation;
    cnnrt_threadpool_drain_(p);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

/* Starts threads - 1 workers (the calling thread works too). Returns 0 or -1. */
static inline int cnnrt_threadpool_start(cnnrt_threadpool *p, int threads) {
  memset(p, 0, sizeof *p);
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    return -1;
  }
  pthread_cond_init(&p->work_ready, NULL);
  pthread_cond_init(&p->work_done, NULL);
  int want = threads - 1;
  if (want > CNNRT_THREADPOOL_MAX) {
    want = CNNRT_THREADPOOL_MAX;
  }
  for (int i = 0; i < want; i++) {
    if (pthread_create(&p->threads[i], NULL, cnnrt_threadpool_worker_, p) != 0) {
      break;
    }
    p->n_workers++;
  }
  return 0;
}

static inline void cnnrt_threadpool_stop(cnnrt_threadpool *p) {
  pthread_mutex_lock(&p->lock);
  p->stopping = 1;
  pthread_cond_broadcast(&p->work_ready);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->n_workers; i++) {
    pthread_join(p->threads[i], NULL);
  }
  pthread_cond_destroy(&p->work_ready);
  pthread_cond_destroy(&p->work_done);
  pthread_mutex_destroy(&p->lock);
}

/* The cnnrt_parallel run function: fn(arg, t) for t in [0, n), on the pool and the caller. */
static inline void cnnrt_threadpool_run(void *ctx, cnnrt_task_fn fn, void *arg, int64_t n) {
  cnnrt_threadpool *p = (cnnrt_threadpool *)ctx;
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->arg = arg;
  p->n_tasks = n;
  p->next_task = 0;
  p->done_tasks = 0;
  p->generation++;
  pthread_cond_broadcast(&p->work_ready);
  cnnrt_threadpool_drain_(p);
  while (p->done_tasks < p->n_tasks) {
    pthread_cond_wait(&p->work_done, &p->lock);
  }
  pthread_mutex_unlock(&p->lock);
}

static inline cnnrt_parallel cnnrt_threadpool_hook(cnnrt_threadpool *p) {
  cnnrt_parallel par;
  par.run = cnnrt_threadpool_run;
  par.ctx = p;
  par.threads = p->n_workers + 1;
  return par;
}

#endif
