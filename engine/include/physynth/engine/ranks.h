// MPI ranks of this process. Under mpirun (Open MPI's and MPICH's launchers set their
// environment) init_ranks initialises MPI; run alone, and in a build without MPI, the process
// is rank 0 of 1 and nothing touches MPI. physynth run splits its shards across the ranks
// (engine/run.h); the other commands run on one rank.
#pragma once

#include <cstddef>

namespace physynth::engine {

// Call once from main, before anything else reads argv. Safe without mpirun.
void init_ranks(int* argc, char*** argv);
// Ends MPI when init_ranks started it (at the end of main; also registered with atexit).
void finalize_ranks();

int rank();
int num_ranks();
// Ranks on this machine, and the threads each gets when its cores are shared between them
// (every core divided by local_ranks(), at least 1).
int local_ranks();
int threads_per_rank();
bool built_with_mpi();

// values[i] = the mean of values[i] over the ranks, the same on every rank (MPI_Allreduce);
// collective: every rank calls it with the same n. Unchanged on one rank.
void average_across_ranks(double* values, std::size_t n);

}  // namespace physynth::engine
