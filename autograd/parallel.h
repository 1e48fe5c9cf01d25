/* parallel.h: our own parallel loop for the kernels that are not GEMMs (attention over heads,
 * LayerNorm and softmax over rows, elementwise ops).
 *
 * A fixed pool of worker threads (EF_NUM_THREADS, default: the number of online cores) splits
 * [0, n) into equal contiguous chunks, one per thread, the caller's thread taking chunk 0.
 * Workers sleep on a condition variable between loops. The same pool also splits large GEMMs
 * (blas.h), so the process never runs more compute threads than the pool size. Chunk
 * boundaries depend only on n and the thread count. A loop started from inside a body runs
 * serially on that thread.
 */
#ifndef EF_AUTOGRAD_PARALLEL_H
#define EF_AUTOGRAD_PARALLEL_H

#include <stdint.h>

#define EF_MAX_THREADS 64

/* body(arg, begin, end, tid): process items [begin, end); tid in [0, ef_num_threads()). */
typedef void (*ef_parallel_body)(void *arg, int64_t begin, int64_t end, int tid);

void ef_parallel_for(int64_t n, ef_parallel_body body, void *arg);
/* Like ef_parallel_for, but runs serially when n * cost_per_item is below a threshold where
 * waking the workers costs more than it saves. cost is in rough flops per item. */
void ef_parallel_for_cost(int64_t n, double cost_per_item, ef_parallel_body body, void *arg);
int ef_num_threads(void);
/* Change the pool size (1..EF_MAX_THREADS). Call between steps, never from inside a body. */
void ef_set_num_threads(int n);

#endif
