/* parallel.c — fork-join pool. The pool is process-wide (like OpenBLAS's
 * own): worker threads are started on first use, guarded by a mutex, and
 * one parallel region runs at a time; a nested or concurrent call simply
 * runs serially on the calling thread. */
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "dinet/dinet.h"

#define MAX_WORKERS 63

typedef struct pool {
  pthread_mutex_t lock;  /* protects everything below */
  pthread_cond_t wake;   /* workers wait for a new generation */
  pthread_cond_t done;   /* the caller waits for pending == 0 */
  pthread_mutex_t busy;  /* held by the thread running a region */
  int nthreads;          /* wanted, including the caller */
  int started;           /* worker threads running */
  unsigned long generation;
  int pending;
  dinet__range_fn fn;
  void *ctx;
  int n;
  int chunks;
} pool_t;

static pool_t pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .nthreads = 0,
};

/* Range of chunk i of `chunks` over [0, n). */
static void chunk_range(int n, int chunks, int i, int *b, int *e) {
  *b = (int)((long long)n * i / chunks);
  *e = (int)((long long)n * (i + 1) / chunks);
}

/* Worker k (1-based) runs chunk k of every generation. */
static void *worker_main(void *arg) {
  int k = (int)(long)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (pool.generation == seen)
      pthread_cond_wait(&pool.wake, &pool.lock);
    seen = pool.generation;
    if (k < pool.chunks) {
      dinet__range_fn fn = pool.fn;
      void *ctx = pool.ctx;
      int b, e;
      chunk_range(pool.n, pool.chunks, k, &b, &e);
      pthread_mutex_unlock(&pool.lock);
      if (e > b)
        fn(ctx, b, e);
      pthread_mutex_lock(&pool.lock);
      if (--pool.pending == 0)
        pthread_cond_signal(&pool.done);
    }
  }
  return NULL;
}

void dinet_set_threads(int n) {
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
  }
  if (n > MAX_WORKERS + 1)
    n = MAX_WORKERS + 1;
  pthread_mutex_lock(&pool.lock);
  pool.nthreads = n;
  pthread_mutex_unlock(&pool.lock);
  openblas_set_num_threads(n);
}

int dinet_get_threads(void) {
  pthread_mutex_lock(&pool.lock);
  int n = pool.nthreads;
  pthread_mutex_unlock(&pool.lock);
  if (n <= 0) {
    dinet_set_threads(0);
    return dinet_get_threads();
  }
  return n;
}

void dinet__parallel_for(int n, dinet__range_fn fn, void *ctx) {
  if (n <= 0)
    return;
  int want = dinet_get_threads();
  if (want > n)
    want = n;
  if (want <= 1 || pthread_mutex_trylock(&pool.busy) != 0) {
    fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&pool.lock);
  while (pool.started < want - 1) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, worker_main, (void *)(long)(pool.started + 1));
    pthread_attr_destroy(&attr);
    if (rc != 0)
      break;
    pool.started++;
  }
  if (want > pool.started + 1)
    want = pool.started + 1;
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  pool.chunks = want;
  pool.pending = want - 1;
  pool.generation++;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);

  int b, e;
  chunk_range(n, want, 0, &b, &e);
  if (e > b)
    fn(ctx, b, e);

  pthread_mutex_lock(&pool.lock);
  while (pool.pending > 0)
    pthread_cond_wait(&pool.done, &pool.lock);
  pthread_mutex_unlock(&pool.lock);
  pthread_mutex_unlock(&pool.busy);
}
