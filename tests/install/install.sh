#!/bin/bash
# cmake --install into a temporary prefix, then, from that prefix alone: a consumer project with
# find_package(physynth) configures, builds and runs; the installed program runs (and opens its
# LibTorch and VTK libraries on demand); the installed Python package imports.
# Usage: install.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
scenario=$source/scenarios/kinetics/michaelis_menten.yaml
cmake -S "$source/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log"
cmake --build "$work/consumer" > "$work/build.log"
out=$("$work/consumer/consumer" "$scenario")
echo "$out"
# The consumer's numbers are the build tree's.
expected=$(PYTHONPATH=$build/python /usr/bin/python3 -c "
import physynth
r = physynth.run('$scenario', set={'sampling.samples': 3}, threads=1)
print('%.10g' % r.states[0, -1, -1])")
echo "$out" | grep -q "= $expected\$" || { echo "consumer printed '$out', the build tree gives $expected"; exit 1; }
# The installed program, away from the build tree: the build tree must not be reachable.
"$prefix/bin/physynth" --version | head -1
elsewhere=$(ldd "$prefix/bin/physynth" | grep libphysynth | grep -v "=> $prefix/" || true)
[ -z "$elsewhere" ] || { echo "the installed program takes physynth's libraries from outside $prefix: $elsewhere"; exit 1; }
"$prefix/bin/physynth" run "$scenario" -q -o "$work/run" --set sampling.samples=4
if [ -e "$prefix/lib/libphysynth_viz.so" ] || ls "$prefix"/lib/*/libphysynth_viz.so > /dev/null 2>&1; then
  (unset DISPLAY; "$prefix/bin/physynth" report "$work/run" --format vtk -q) && test -s "$work/run/report.html"
fi
# The installed Python package.
PYTHONPATH=$(dirname "$(find "$prefix" -name __init__.py -path '*physynth*' | head -1)")/.. /usr/bin/python3 -c "
import physynth, sys
run = physynth.open_run(sys.argv[1])
assert run.num_samples == 4, run
print('python:', physynth.__file__)" "$work/run"
echo "install: ok"
