#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "collective.h"
#include "physynth/engine/ranks.h"

#ifdef PHYSYNTH_HAVE_MPI
#include <mpi.h>
#endif

namespace physynth::engine {

namespace {

int g_rank = 0, g_size = 1, g_local = 1;
bool g_started = false;

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

#ifdef PHYSYNTH_HAVE_MPI
void check(int code, const char* what) {
  if (code != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw std::runtime_error(std::string("MPI: ") + what + ": " + std::string(text, static_cast<std::size_t>(length)));
  }
}
#endif

}  // namespace

void init_ranks(int* argc, char*** argv) {
#ifdef PHYSYNTH_HAVE_MPI
  if (g_started || !launched_by_mpirun()) return;
  int provided = 0;
  // Only the main thread calls MPI; TBB's workers never do.
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &g_local);
  MPI_Comm_free(&local);
  std::atexit(finalize_ranks);
#else
  (void)argc;
  (void)argv;
#endif
}

void finalize_ranks() {
#ifdef PHYSYNTH_HAVE_MPI
  int finalized = 0;
  if (g_started && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
#endif
}

int rank() { return g_rank; }
int num_ranks() { return g_size; }
int local_ranks() { return g_local; }
int threads_per_rank() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / g_local); }

bool built_with_mpi() {
#ifdef PHYSYNTH_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void average_across_ranks(double* values, std::size_t n) {
#ifdef PHYSYNTH_HAVE_MPI
  if (g_size > 1) {
    if (n > static_cast<std::size_t>(INT32_MAX)) throw std::runtime_error("MPI: too many values to average");
    check(MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
    for (std::size_t i = 0; i < n; ++i) values[i] /= g_size;
  }
#else
  (void)values;
  (void)n;
#endif
}

namespace collective {

void barrier() {
#ifdef PHYSYNTH_HAVE_MPI
  if (g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

std::string broadcast(const std::string& from_root) {
#ifdef PHYSYNTH_HAVE_MPI
  if (g_size > 1) {
    unsigned long long n = from_root.size();
    check(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
    std::string text = g_rank == 0 ? from_root : std::string(n, '\0');
    if (n > 0) check(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
    return text;
  }
#endif
  return from_root;
}

std::vector<std::string> gather(const std::string& mine) {
#ifdef PHYSYNTH_HAVE_MPI
  if (g_size > 1) {
    if (mine.size() > static_cast<std::size_t>(INT32_MAX))
      throw std::runtime_error("MPI: a rank's shard records exceed 2 GiB");
    const int n = static_cast<int>(mine.size());
    std::vector<int> sizes(static_cast<std::size_t>(g_size)), offsets(static_cast<std::size_t>(g_size));
    check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    long long total = 0;
    for (int r = 0; r < g_size; ++r) {
      offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += sizes[static_cast<std::size_t>(r)];
    }
    if (g_rank == 0 && total > INT32_MAX) throw std::runtime_error("MPI: the ranks' shard records exceed 2 GiB");
    std::string all(g_rank == 0 ? static_cast<std::size_t>(total) : 0, '\0');
    check(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::string> out;
    if (g_rank == 0)
      for (int r = 0; r < g_size; ++r)
        out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                                 static_cast<std::size_t>(sizes[static_cast<std::size_t>(r)])));
    return out;
  }
#endif
  return {mine};
}

}  // namespace collective

}  // namespace physynth::engine
