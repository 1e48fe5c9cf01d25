/* parallel.c: the worker pool behind ef_parallel_for. Must never run a body twice or skip a
 * chunk, and must never spin for long: a waiting thread spins at most EF_POOL_SPIN pauses
 * (tens of microseconds), then sleeps on a condition variable. */
#include "autograd/parallel.h"

#include "autograd/blas.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Pause iterations a waiting thread spins before it sleeps (about 50-100 us): long enough to
 * bridge the serial gaps between the loops of a step, short enough not to steal a core for
 * long from anything else. EF_POOL_SPIN=0 turns spinning off. */
#define EF_POOL_SPIN_DEFAULT 4000

/* Below this many flops a loop runs on the caller's thread alone. */
#define EF_PARALLEL_MIN_FLOPS 20000.0

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_t threads[EF_MAX_THREADS];
  int nthreads; /* including the caller */
  int nworkers; /* started worker threads */
  uint64_t generation;
  int shutdown;
  ef_parallel_body body;
  void *arg;
  int64_t n;
  /* Hand-off without the kernel: a worker that finished spins a little on `published` before
   * it sleeps on `wake`, and the caller spins on `pending` before it sleeps on `done`. Most
   * loops of a training step follow each other within microseconds, so most hand-offs then
   * cost no futex call and no context switch. */
  atomic_uint_fast64_t published; /* = generation, stored after body/arg/n */
  atomic_int pending;             /* workers still running the current loop */
  atomic_int sleepers;            /* workers blocked on `wake` */
  atomic_int caller_waiting;      /* the caller is blocked on `done` */
  int spin;                       /* pause iterations before sleeping (EF_POOL_SPIN) */
} pool_t;

/* Set while the current thread runs a loop body: nested loops then run serially. */
static __thread int in_body;

static pool_t pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
                      .wake = PTHREAD_COND_INITIALIZER,
                      .done = PTHREAD_COND_INITIALIZER};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static void chunk_of(int64_t n, int nt, int tid, int64_t *b, int64_t *e) {
  int64_t base = n / nt, rem = n % nt;
  *b = tid * base + (tid < rem ? tid : rem);
  *e = *b + base + (tid < rem ? 1 : 0);
}

/* Wait until a generation after `seen` is published (or shutdown); returns it. */
static uint64_t await_generation(uint64_t seen) {
  for (int i = 0; i < pool.spin; i++) {
    uint64_t g = atomic_load_explicit(&pool.published, memory_order_acquire);
    if (g != seen) return g;
    cpu_relax();
  }
  pthread_mutex_lock(&pool.mu);
  atomic_fetch_add(&pool.sleepers, 1);
  while (!pool.shutdown && atomic_load(&pool.published) == seen)
    pthread_cond_wait(&pool.wake, &pool.mu);
  atomic_fetch_sub(&pool.sleepers, 1);
  uint64_t g = atomic_load(&pool.published);
  pthread_mutex_unlock(&pool.mu);
  return g;
}

static void *worker(void *p) {
  int tid = (int)(intptr_t)p;
  uint64_t seen = 0;
  for (;;) {
    seen = await_generation(seen);
    pthread_mutex_lock(&pool.mu);
    int stop = pool.shutdown, nt = pool.nthreads;
    ef_parallel_body body = pool.body;
    void *arg = pool.arg;
    int64_t n = pool.n;
    pthread_mutex_unlock(&pool.mu);
    if (stop) break;
    if (tid >= nt) continue; /* not in this loop (the pool was made smaller) */
    int64_t b, e;
    chunk_of(n, nt, tid, &b, &e);
    in_body = 1;
    if (b < e) body(arg, b, e, tid);
    in_body = 0;
    if (atomic_fetch_sub(&pool.pending, 1) == 1 && atomic_load(&pool.caller_waiting)) {
      pthread_mutex_lock(&pool.mu);
      pthread_cond_signal(&pool.done);
      pthread_mutex_unlock(&pool.mu);
    }
  }
  return NULL;
}

static void pool_shutdown(void) {
  pthread_mutex_lock(&pool.mu);
  pool.shutdown = 1;
  pool.generation++;
  atomic_store(&pool.published, pool.generation);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 1; i <= pool.nworkers; i++) pthread_join(pool.threads[i], NULL);
  pool.nworkers = 0;
}

static void start_workers(int upto) {
  /* Workers 1..upto-1 (thread 0 is the caller). Never stopped until exit. */
  for (int i = pool.nworkers + 1; i < upto; i++) {
    if (pthread_create(&pool.threads[i], NULL, worker, (void *)(intptr_t)i) != 0) break;
    pool.nworkers = i;
  }
}

static void pool_init(void) {
  int n = 0;
  const char *env = getenv("EF_NUM_THREADS");
  if (env) n = atoi(env);
  if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) n = 1;
  if (n > EF_MAX_THREADS) n = EF_MAX_THREADS;
  const char *spin = getenv("EF_POOL_SPIN");
  pool.spin = spin ? atoi(spin) : EF_POOL_SPIN_DEFAULT;
  if (pool.spin < 0) pool.spin = 0;
  pool.nthreads = n;
  start_workers(n);
  if (pool.nworkers + 1 < n) pool.nthreads = pool.nworkers + 1;
  ef_blas_set_threads(pool.nthreads);
  atexit(pool_shutdown);
}

int ef_num_threads(void) {
  pthread_once(&pool_once, pool_init);
  return pool.nthreads;
}

void ef_set_num_threads(int n) {
  pthread_once(&pool_once, pool_init);
  if (n < 1) n = 1;
  if (n > EF_MAX_THREADS) n = EF_MAX_THREADS;
  pthread_mutex_lock(&pool.mu);
  start_workers(n);
  pool.nthreads = n < pool.nworkers + 1 ? n : pool.nworkers + 1;
  pthread_mutex_unlock(&pool.mu);
  ef_blas_set_threads(pool.nthreads);
}

void ef_parallel_for(int64_t n, ef_parallel_body body, void *arg) {
  if (n <= 0) return;
  int nt = ef_num_threads();
  if (nt == 1 || n == 1 || in_body) {
    body(arg, 0, n, 0);
    return;
  }
  pthread_mutex_lock(&pool.mu);
  pool.body = body;
  pool.arg = arg;
  pool.n = n;
  atomic_store(&pool.pending, nt - 1);
  pool.generation++;
  atomic_store_explicit(&pool.published, pool.generation, memory_order_seq_cst);
  if (atomic_load(&pool.sleepers) > 0) pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  int64_t b, e;
  chunk_of(n, nt, 0, &b, &e);
  in_body = 1;
  if (b < e) body(arg, b, e, 0);
  in_body = 0;
  for (int i = 0; i < pool.spin && atomic_load(&pool.pending) > 0; i++) cpu_relax();
  if (atomic_load(&pool.pending) > 0) {
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.caller_waiting, 1);
    while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.mu);
    atomic_store(&pool.caller_waiting, 0);
    pthread_mutex_unlock(&pool.mu);
  }
}

void ef_parallel_for_cost(int64_t n, double cost_per_item, ef_parallel_body body, void *arg) {
  if ((double)n * cost_per_item < EF_PARALLEL_MIN_FLOPS) {
    if (n > 0) body(arg, 0, n, 0);
    return;
  }
  ef_parallel_for(n, body, arg);
}
