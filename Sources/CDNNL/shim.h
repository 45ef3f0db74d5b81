// oneDNN's C API (Debian: libdnnl-dev, built with the OpenMP runtime) and the few libgomp calls
// ArchLab makes. Only ArchTensor imports this module.
#include <oneapi/dnnl/dnnl.h>
// libgomp: oneDNN's primitives run on OpenMP threads; the count is set per call.
void omp_set_num_threads(int num_threads);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
// libgomp's entry point for `#pragma omp parallel`: runs fn(data) on a team of num_threads threads
// (the caller is thread 0). ArchLab's own parallel loops use it, so that they run on the same
// threads as oneDNN's kernels instead of competing with their spinning workers.
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
