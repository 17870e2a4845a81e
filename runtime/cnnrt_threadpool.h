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
 * which is cheap next to the layer-sized tasks generated code creates.
 * Between regions a worker first spins for a while (CNNRT_THREADPOOL_SPIN polls of the region
 * counter, ~100 us) before it sleeps on the condition variable: a network runs one region per
 * layer, back to back, and waking a sleeping thread costs tens of microseconds (more on a loaded
 * machine), which on MobileNet-sized layers is a large part of the layer. The caller spins the
 * same way for the last tasks to finish, but longer (CNNRT_THREADPOOL_WAIT_SPIN polls, ~1.3 ms):
 * those tasks are running, and a layer's tasks can end a few hundred microseconds apart when one
 * core is slower than the other (on a shared VM), after which a caller that went to sleep woke
 * ~44 us after the last task's signal (ResNet-50's 28 x 28 Winograd layers, bench/task_trace.c).
 * The polls use the GCC/Clang __atomic builtins (no C11 atomics: the header must build as C99);
 * other compilers only sleep. */
#ifndef CNNRT_THREADPOOL_H
#define CNNRT_THREADPOOL_H

#include <pthread.h>

#include "cnnrt.h"

#define CNNRT_THREADPOOL_MAX 64
#ifndef CNNRT_THREADPOOL_SPIN
#define CNNRT_THREADPOOL_SPIN 4000
#endif
#ifndef CNNRT_THREADPOOL_WAIT_SPIN
#define CNNRT_THREADPOOL_WAIT_SPIN (16 * CNNRT_THREADPOOL_SPIN)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CNNRT_THREADPOOL_ATOMIC 1
#if defined(__x86_64__) || defined(__i386__)
#define CNNRT_THREADPOOL_PAUSE() __builtin_ia32_pause()
#else
#define CNNRT_THREADPOOL_PAUSE() ((void)0)
#endif
#endif

typedef struct cnnrt_threadpool {
  pthread_mutex_t lock;
  pthread_cond_t work_ready; /* workers wait here for a new generation */
  pthread_cond_t work_done;  /* the caller waits here for the region to finish */
  pthread_t threads[CNNRT_THREADPOOL_MAX];
  int n_workers; /* threads besides the caller */
  int stopping;
  unsigned generation; /* bumped per parallel region (polled without the lock) */
  unsigned finished;   /* set when the region's last task is done (polled without the lock) */
  cnnrt_task_fn fn;
  void *arg;
  int64_t n_tasks, next_task, done_tasks;
} cnnrt_threadpool;

/* Polls (without the lock) until *word != value or `budget` polls are done; the caller then
 * takes the lock and checks properly. */
static inline void cnnrt_threadpool_spin_(const unsigned *word, unsigned value, long budget) {
#if defined(CNNRT_THREADPOOL_ATOMIC)
  for (long i = 0; i < budget; i++) {
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) {
      return;
    }
    CNNRT_THREADPOOL_PAUSE();
  }
#else
  (void)word;
  (void)value;
  (void)budget;
#endif
}

/* Stores under the lock that spinning threads poll. */
static inline void cnnrt_threadpool_publish_(unsigned *word, unsigned value) {
#if defined(CNNRT_THREADPOOL_ATOMIC)
  __atomic_store_n(word, value, __ATOMIC_RELEASE);
#else
  *word = value;
#endif
}

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
      cnnrt_threadpool_publish_(&p->finished, 1u);
      pthread_cond_signal(&p->work_done);
    }
  }
}

static inline void *cnnrt_threadpool_worker_(void *opaque) {
  cnnrt_threadpool *p = (cnnrt_threadpool *)opaque;
  unsigned seen = 0;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    if (!p->stopping && p->generation == seen) {
      pthread_mutex_unlock(&p->lock);
      cnnrt_threadpool_spin_(&p->generation, seen, CNNRT_THREADPOOL_SPIN);
      pthread_mutex_lock(&p->lock);
    }
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
  cnnrt_threadpool_publish_(&p->generation, p->generation + 1u); /* ends spinning workers' wait */
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
  cnnrt_threadpool_publish_(&p->finished, n > 0 ? 0u : 1u);
  cnnrt_threadpool_publish_(&p->generation, p->generation + 1u);
  pthread_cond_broadcast(&p->work_ready);
  cnnrt_threadpool_drain_(p);
  if (p->done_tasks < p->n_tasks) { /* the other threads' last tasks are running */
    pthread_mutex_unlock(&p->lock);
    cnnrt_threadpool_spin_(&p->finished, 0u, CNNRT_THREADPOOL_WAIT_SPIN);
    pthread_mutex_lock(&p->lock);
  }
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
