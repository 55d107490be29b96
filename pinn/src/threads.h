// The threads torch's operations run on, and the allocator under them: shared by the PINN
// (pinn_impl.h) and the closed loop's regressor (regressor.cpp). Private to pinn/.
#pragma once

#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace physynth::pinn {
inline namespace detail {

// glibc serves blocks above its mmap threshold (128 KiB at first) with mmap and returns them
// at free: a training step allocates and frees tensors of 1 MB (4096 points x 64 floats) a
// few hundred times, each a fresh mapping and page faults. The threshold only rises once a
// large block has been freed, so the same step took 21.5 ms or 13.2 ms (bench/pinn_bench)
// depending on whether setting up had happened to free one. Held at 64 MiB, with the heap
// trimmed only above 256 MiB, blocks are reused. Once per process, unless the user has set
// MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ (glibc's own variables) themselves.
inline void tune_allocator() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
#endif
}

// Torch's operations (and OpenBLAS's) in the calling thread run on `threads` cores, or on
// every core when 0; the allocator is tuned once. Set as the thread's OpenMP count (what torch's
// OpenMP build runs its operations with), not with at::set_num_threads: that re-creates caffe2's
// pthreadpool (QNNPACK's, which nothing here uses) at every call, 8-9 ms in the calling thread
// and a new pool thread that spins on a core the network needs; and once that count is set,
// every thread that first runs a torch operation (each OpenMP worker of a chunked call) re-creates
// the pool once more (at::init_num_threads). The engine sets the count before every shard: on
// Michaelis-Menten's 500-sample shards that was a tenth of the PINN's time, and a new worker's
// first chunk took 18 ms longer (2026-12-06). Torch sets a thread's count at its first use
// there (at::get_num_threads), so that comes first.
inline void use_threads(int threads) {
  tune_allocator();
  (void)at::get_num_threads();
  omp_set_num_threads(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// Ends the calling thread's OpenMP team (OpenMP 5's omp_pause_resource_all). After a parallel
// region libgomp's workers spin for a while before they sleep (OMP_WAIT_POLICY unset: some
// milliseconds), on cores the engine's own threads need next: the per-sample work after a
// shard's network call took 11.5 ms on 2 threads, as long as on 1, and 7.2 ms once the team was
// ended (Michaelis-Menten, 1,000 samples, AMD EPYC, 2026-12-06; OMP_WAIT_POLICY=passive gave
// 7.5 ms). The next region starts a new team; the numbers do not depend on it.
inline void release_threads() { (void)omp_pause_resource_all(omp_pause_soft); }

// Torch's operations (and OpenBLAS) in the calling thread alone while this lives: the thread's
// OpenMP count set to 1, and back. Torch sets a thread's count at its first use there, so that
// comes first.
class OneThread {
 public:
  OneThread() : saved_(((void)at::get_num_threads(), omp_get_max_threads())) { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(saved_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int saved_;
};

}  // namespace detail
}  // namespace physynth::pinn
