#!/usr/bin/env bash
# One entry point for the README's quick start and for CI.
#   scripts/dev.sh run  [SCENARIO]  install what is missing, build, run a scenario
#   scripts/dev.sh test             install what is missing, build (without the benchmarks), run
#                                   every test (ctest), then the ASan/UBSan build's tests and fuzz
#                                   harnesses (scripts/sanitize.sh)
#   scripts/dev.sh build            install what is missing, build
# BUILD_DIR (default: build) and BUILD_TYPE (default: Release) can be set in the environment.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
cmd=${1:-build}
build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-Release}
jobs=$(nproc)

"$here/scripts/install-deps.sh"

# The benchmarks (bench/) are not tests: the test command leaves them out (95 s of compiler time,
# about 47 s of the build on 2 cores); the run and build commands build them.
bench=ON
[ "$cmd" = test ] && bench=OFF
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DPHYSYNTH_BUILD_BENCH="$bench"
cmake --build "$build_dir" --parallel "$jobs"

case "$cmd" in
  build) ;;
  run)
    scenario=${2:-scenarios/kinetics/michaelis_menten.yaml}
    "$build_dir/apps/physynth" run "$scenario" --overwrite --report
    ;;
  test)
    (cd "$build_dir" && ctest --output-on-failure --parallel "$jobs" --timeout 900)
    "$here/scripts/sanitize.sh"
    ;;
  *)
    echo "usage: scripts/dev.sh run [SCENARIO] | test | build" >&2
    exit 2
    ;;
esac
