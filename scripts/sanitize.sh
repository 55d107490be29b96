#!/usr/bin/env bash
# The AddressSanitizer + UndefinedBehaviorSanitizer build (clang) of everything that does not
# need LibTorch or VTK, with the libFuzzer harnesses; runs its tests, which include each
# harness over its corpus (fuzz/corpus) and a short fuzzing run. Any sanitizer finding fails.
#   scripts/sanitize.sh [FUZZ_SECONDS]     (BUILD_DIR default: build-asan)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
build_dir=${BUILD_DIR:-build-asan}
seconds=${1:-10}
jobs=$(nproc)
# -O1 with line tables: readable stack traces at a fraction of -O2 -g's compile time.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPHYSYNTH_BUILD_BENCH=OFF \
  -DPHYSYNTH_WITH_TORCH=OFF -DPHYSYNTH_WITH_VTK=OFF -DPHYSYNTH_SANITIZE=ON -DPHYSYNTH_FUZZ=ON \
  -DPHYSYNTH_WITH_PYTHON=OFF \
  -Dfuzz_seconds="$seconds"
cmake --build "$build_dir" --parallel "$jobs"
cd "$build_dir"
# Leaks are reported (detect_leaks); Open MPI's own allocations are not ours: the tests do not
# start MPI except through mpirun, whose ranks are checked the same way.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The reliability scripts run a quarter of their samples: the same paths (tests/reliability/common.sh).
export PHYSYNTH_INSTRUMENTED=1
# Left out, each for a test that runs the same paths here, to keep CI short (measured 2026-12-03,
# instrumented): the Boehm multi-start (30 optimisations of one model, 7 min; the other
# calibration and SBML tests); the population coverage study (repeated FOCE-I fits, 7 min; the
# groups/covariate population test and the theophylline CLI fit). And (measured 2026-12-04, 245 s
# instrumented) the theophylline population fit through the CLI: its FOCE-I paths run in the
# groups/covariate/full-covariance population test, the CLI's population reading in the
# covariate-column refusal test; the main suite runs the fit itself.
# And the two bearing vibration-feature fits through the CLI (anchor with common random numbers
# over synthesised snapshots), 189 s and 247 s instrumented, 16 times their uninstrumented time
# (2 cores of an AMD EPYC, 2026-12-04; the snapshots' noise draws and libm calls): engine_test's
# small stand-in ("a healthy bearing's noise level recovered from its vibration RMS", 1.3 s
# instrumented) takes the same path here; the main suite runs the two fits themselves.
# And (measured 2026-12-04, instrumented, 2 cores of an AMD EPYC) two calibration tests of small
# models on Rodas5P, whose fixed-size Eigen code ran about 70 times slower instrumented at -O1
# (solvers/CMakeLists.txt now compiles it at -O2 here): the shared-parameter spread (120 s; 74 s
# at -O2) and the 95 % coverage of 50 seeded fits (57 s). Their paths
# (anchor::calibrate with Rodas5P sensitivities; shared and per-unit parameters) run here in
# "per-unit rates of a fleet" and the Puromycin and noise-kind tests.
# And (measured 2026-12-05, 20 s instrumented) the NDF through the engine's jumps, regimes and
# events against tight CVODES: the NDF's steps, events and restarts run here in
# tests/solvers/ndf_test.cpp and the SBML Test Suite with the NDF (events at known times), the
# engine's plumbing in every engine test; the main suite runs it. Likewise auto's picks against
# tight CVODES (26 s instrumented): Rodas5P's events, jumps, regimes and sensitivities run here
# in rosenbrock_test and the engine's scenario tests.
ctest --output-on-failure --parallel "$jobs" --timeout 1200 \
  -E "Boehm STAT5 multi-start|intervals cover the truth in about 95 % of simulated fleets|anchor fits a bearing's vibration RMS|anchor fits a bearing whose growth|anchor fits the theophylline subjects as a population|a shared parameter's uncertainty, which moves every unit together|95% intervals cover the true rate constants|agrees with CVODES at tight tolerances through jumps|what auto picks agrees with CVODES at 10"
