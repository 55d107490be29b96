// MPI ranks of this process. Under mpirun (Open MPI's and MPICH's launchers set their
// environment) init_ranks initialises MPI; run alone, and in a build without MPI, the process
// is rank 0 of 1 and nothing touches MPI. physynth run splits its shards across the ranks
// (engine/run.h); the other commands run on one rank.
#pragma once

namespace physynth::engine {

// Call once from main, before anything else reads argv. Safe without mpirun.
void init_ranks(int* argc, char*** argv);
// Ends MPI when init_ranks started it (at the end of main; also registered with atexit).
void finalize_ranks();

int rank();
int num_ranks();
// Ranks on this machine (to share its cores between them).
int local_ranks();
bool built_with_mpi();

}  // namespace physynth::engine
