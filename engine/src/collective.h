// Collective operations over the MPI ranks (ranks.h); on one rank each is the identity.
#pragma once

#include <string>
#include <vector>

namespace physynth::engine::collective {

void barrier();
// Root's text on every rank.
std::string broadcast(const std::string& from_root);
// On rank 0: every rank's text in rank order; elsewhere: empty.
std::vector<std::string> gather(const std::string& mine);

}  // namespace physynth::engine::collective
