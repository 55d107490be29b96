#!/usr/bin/env bash
# `physynth run` as a user waits for it (wall time, the files written), with two builds side by
# side in one go: the median of REPEATS runs of each, alternating, on 1 and 2 threads, and whether
# the two builds' data files hold the same values (every HDF5 dataset and attribute, bit for bit,
# and the CSV and NPY files byte for byte). Prints a Markdown table.
#   bench/compare_builds.sh OLD_BUILD NEW_BUILD REPEATS SCENARIO[:--set key=value ...] ...
# e.g. bench/compare_builds.sh /tmp/old build 5 \
#        "scenarios/kinetics/reversible_binding.yaml:--set sampling.samples=4096"
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
old=$1 new=$2 repeats=$3
shift 3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

wall() {  # BUILD OUT THREADS SCENARIO ARGS...: seconds of one run
  local build=$1 out=$2 threads=$3 scenario=$4
  shift 4
  rm -rf "$out"
  local t0 t1
  t0=$(date +%s.%N)
  "$build/apps/physynth" run "$here/$scenario" -o "$out" -q -j "$threads" "$@" > /dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date +%F)"
echo
echo "| scenario | threads | old build (s) | new build (s) | speed-up | same values |"
echo "|---|---|---|---|---|---|"
for spec in "$@"; do
  scenario=${spec%%:*}
  args=()
  [ "$spec" != "$scenario" ] && read -r -a args <<< "${spec#*:}"
  for threads in 1 2; do
    a=() b=()
    for ((k = 0; k < repeats; ++k)); do
      a+=("$(wall "$old" "$dir/old" "$threads" "$scenario" "${args[@]}")")
      b+=("$(wall "$new" "$dir/new" "$threads" "$scenario" "${args[@]}")")
    done
    same=$(/usr/bin/python3 - "$dir/old" "$dir/new" <<'PY'
import pathlib, sys
import h5py, numpy as np
a, b = map(pathlib.Path, sys.argv[1:3])
names = sorted(p.name for p in a.iterdir() if p.suffix in (".h5", ".csv", ".npy"))
if names != sorted(p.name for p in b.iterdir() if p.suffix in (".h5", ".csv", ".npy")):
    print("no (different files)"); sys.exit()
def h5_items(f):
    out = {}
    def visit(name, obj):
        out[name + "@"] = sorted((k, repr(v)) for k, v in obj.attrs.items())
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[...].tobytes()
    f.visititems(visit)
    out["/@"] = sorted((k, repr(v)) for k, v in f.attrs.items())
    return out
for n in names:
    if n.endswith(".h5"):
        same = h5_items(h5py.File(a / n, "r")) == h5_items(h5py.File(b / n, "r"))
    else:
        same = (a / n).read_bytes() == (b / n).read_bytes()
    if not same:
        print(f"no ({n})"); sys.exit()
print(f"yes ({len(names)} files)")
PY
)
    med() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
    ma=$(med "${a[@]}") mb=$(med "${b[@]}")
    printf '| %s %s | %s | %.2f | %.2f | %.2f | %s |\n' "$(basename "$scenario" .yaml)" "${args[*]:-}" "$threads" \
      "$ma" "$mb" "$(echo "$ma / $mb" | bc -l)" "$same"
  done
done
