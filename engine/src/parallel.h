/* parallel.h — a small fork-join pool for the engine's own loops.
 * OpenBLAS keeps its own threads; this pool runs the element-wise,
 * im2col and normalisation loops between sgemm calls. */
#ifndef DINET_PARALLEL_H
#define DINET_PARALLEL_H

/* fn(ctx, begin, end) is called on disjoint ranges covering [0, n). */
typedef void (*dinet__range_fn)(void *ctx, int begin, int end);
void dinet__parallel_for(int n, dinet__range_fn fn, void *ctx);

#endif
