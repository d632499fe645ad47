#!/usr/bin/env bash
# tools/gpu-prebuild.sh — builds, on a machine with nvcc but without a GPU, the
# four programs that tools/gpu-check.sh runs first on a GPU machine, so that
# the check's first minute already runs minidp on the GPU instead of waiting
# for a build there:
#
#   test_gpu      every CUDA kernel against the CPU (and its "smoke:" cases)
#   test_ddp_gpu  DistributedDataParallel on the GPU, under mpirun
#   train_mlp     one against two replicas on one GPU (dp_equivalence.py)
#   bench_step    the step benchmark (used when the check's own build fails)
#
#   tools/gpu-prebuild.sh                     # then run tools/gpu-check.sh on the GPU machine
#   ARCH=80 tools/gpu-prebuild.sh             # for an A100 instead of an H100/H200
#
# They are built for any x86-64 processor (MINIDP_NATIVE=OFF) with the CPU's
# matrix products in Eigen and the reference convolutions (MINIDP_OPENBLAS=OFF,
# MINIDP_ONEDNN=OFF: a GPU machine need not have OpenBLAS or oneDNN). Only
# test_ddp_gpu needs MPI: the other three are built in a second tree without
# it (MINIDP_MPI=OFF), so that an MPI missing or different on the GPU machine
# costs the DDP row alone. They are stripped, checked to need only libraries a
# CUDA 13 machine has (the CUDA runtime, cuBLAS/cuBLASLt 13, cuDNN 9, NCCL 2,
# zlib, the C and C++ runtimes; Open MPI 4 for test_ddp_gpu alone), and packed
# into the ignored folder .gpu-bin/ as bin.tar.xz (an archive keeps their
# executable bits whatever copies it; gpu-check.sh unpacks it into a
# temporary folder) with a MANIFEST (commit, sources digest, date, flags,
# sizes, the libraries each needs).
# It also copies Fashion-MNIST into .data/fashion-mnist/ when it is missing
# there (Debian/Ubuntu: apt-get install dataset-fashion-mnist).
#
# Environment: BUILD (build-gpu-prebuilt; the MPI tree is BUILD-mpi), DEST
# (.gpu-bin), ARCH (90), JOBS (nproc), DATA (.data/fashion-mnist), TRAVEL_MB (64: a
# warning when the tree, the data and the binaries are larger together),
# MAX_GLIBC (2.39) and MAX_GLIBCXX (3.4.32): the newest symbol versions the
# binaries may need (Ubuntu 24.04's; an error above them).
# Exit status: 0 when the binaries are in DEST; 1 otherwise (DEST is then left as it was).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-gpu-prebuilt}
DEST=${DEST:-.gpu-bin}
ARCH=${ARCH:-90}
JOBS=${JOBS:-$(nproc)}
DATA=${DATA:-.data/fashion-mnist}
TRAVEL_MB=${TRAVEL_MB:-64}
MAX_GLIBC=${MAX_GLIBC:-2.39}
MAX_GLIBCXX=${MAX_GLIBCXX:-3.4.32}
TARGETS=(test_gpu test_ddp_gpu train_mlp bench_step)
BUILD_MPI=${BUILD}-mpi
# Which tree builds each target: only test_ddp_gpu links MPI.
declare -A TREE=([test_gpu]=$BUILD [train_mlp]=$BUILD [bench_step]=$BUILD [test_ddp_gpu]=$BUILD_MPI)
# Where each target's binary lands in the build tree.
declare -A WHERE=([test_gpu]=tests/test_gpu [test_ddp_gpu]=tests/test_ddp_gpu
                  [train_mlp]=examples/train_mlp [bench_step]=bench/bench_step)
# The libraries the binaries may need: what a machine with the CUDA 13
# toolkit, cuDNN 9 and NCCL 2 has, and Open MPI 4 for test_ddp_gpu. Anything
# else (OpenBLAS above all; MPI in the other three) is an error.
ALLOWED='^(libcudart\.so\.13|libcublas\.so\.13|libcublasLt\.so\.13|libcudnn\.so\.9|libnccl\.so\.2|libz\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libm\.so\.6|libc\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2)$'
ALLOWED_MPI='^(libmpi\.so\.40|libmpi_cxx\.so\.40)$'
FASHION=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

say() { echo "gpu-prebuild: $*"; }
die() { echo "gpu-prebuild: ERROR: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# version_le A B: A <= B for dotted versions
version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }
T0=$(date +%s)

# ---------------------------------------------------------------- 0. tools
command -v cmake >/dev/null || die "cmake not found (apt-get install cmake)"
NVCC=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
[ -n "$NVCC" ] || die "nvcc not found: install the CUDA 13 toolkit (a GPU is not needed)"
for t in readelf strip xz tar; do command -v "$t" >/dev/null || die "$t not found (apt-get install binutils xz-utils tar)"; done

# ---------------------------------------------------------------- 1. the data the check reads
data_note=""
have_data() { for f in "${FASHION[@]}"; do [ -s "$DATA/$f" ] || return 1; done; }
if ! have_data; then
  src=""
  if command -v dpkg >/dev/null && dpkg -L dataset-fashion-mnist >/dev/null 2>&1; then
    src=$(dirname "$(dpkg -L dataset-fashion-mnist | grep -m1 '/train-images-idx3-ubyte.gz$')")
  fi
  [ -n "$src" ] || { [ -s /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && src=/usr/share/datasets/fashion-mnist; } || true
  if [ -n "$src" ]; then
    mkdir -p "$DATA"
    for f in "${FASHION[@]}"; do [ -s "$DATA/$f" ] || cp "$src/$f" "$DATA/$f"; done
    say "copied Fashion-MNIST from $src into $DATA"
  else
    data_note="Fashion-MNIST is not in $DATA and package dataset-fashion-mnist is not installed: apt-get install dataset-fashion-mnist and run this again, or copy ${FASHION[*]} into $DATA (gpu-check.sh fails its 'data' row without them)"
  fi
fi

# ---------------------------------------------------------------- 2. configure and build the four targets
digest_before=$(bash tools/gpu-check.sh --source-digest)
# shellcheck disable=SC2054  # (-Wl,--as-needed is one argument)
FLAGS=(-DCMAKE_BUILD_TYPE=Release -DMINIDP_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DMINIDP_NATIVE=OFF
       -DMINIDP_OPENBLAS=OFF -DMINIDP_ONEDNN=OFF -DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed)
# tree TREE MPI(ON|OFF) TARGET...: configure and build one tree.
tree() {
  local dir=$1 mpi=$2
  shift 2
  local generator=()
  [ -f "$dir/CMakeCache.txt" ] || ! command -v ninja >/dev/null || generator=(-G Ninja)
  local flags=("${FLAGS[@]}" -DMINIDP_MPI="$mpi")
  [ "$mpi" = ON ] && flags+=(-DMPI_CXX_SKIP_MPICXX=ON)
  say "configure $dir: ${flags[*]}"
  cmake -S . -B "$dir" "${generator[@]}" "${flags[@]}" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; die "configure failed (log: $dir.configure.log)"; }
  grep -E '^-- minidp' "$dir.configure.log" || true
  grep -q 'CUDA backend ON' "$dir.configure.log" || die "the CUDA backend is not on (log: $dir.configure.log)"
  grep -q 'through OpenBLAS' "$dir.configure.log" && die "the build would use OpenBLAS, which the GPU machine lacks"
  if [ "$mpi" = ON ]; then grep -q 'multi-process (MPI) ON' "$dir.configure.log" || die "MPI not found for $dir (apt-get install libopenmpi-dev openmpi-bin)"; fi
  say "build $* in $dir on $JOBS jobs (the first build of the CUDA backend takes a while)"
  cmake --build "$dir" --target "$@" -j "$JOBS" > "$dir.build.log" 2>&1 ||
    { tail -40 "$dir.build.log"; die "build failed (log: $dir.build.log)"; }
}
b0=$(date +%s)
tree "$BUILD" OFF test_gpu train_mlp bench_step
tree "$BUILD_MPI" ON test_ddp_gpu
build_s=$(( $(date +%s) - b0 ))
say "built in $build_s s"
digest_after=$(bash tools/gpu-check.sh --source-digest)
[ "$digest_before" = "$digest_after" ] ||
  say "WARNING: sources changed during the build; the MANIFEST records the digest from before it (run again for a clean match)"

# ---------------------------------------------------------------- 3. strip and check
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/gpu-prebuild.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir "$STAGE/bin"
bad=""
total=0
needed_all=""
sizes=""
max_glibc=0 max_glibcxx=0
for t in "${TARGETS[@]}"; do
  f="${TREE[$t]}/${WHERE[$t]}"
  [ -x "$f" ] || die "$f was not built"
  cp "$f" "$STAGE/bin/$t"
  strip --strip-all "$STAGE/bin/$t"
  s=$(stat -c %s "$STAGE/bin/$t")
  total=$(( total + s ))
  sizes+="  $t $s bytes ($(mib "$s"); $(mib "$(stat -c %s "$f")") before strip)"$'\n'
  needed=$(readelf -d "$STAGE/bin/$t" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
  for n in $needed; do
    grep -Eq "$ALLOWED" <<< "$n" && continue
    [ "$t" = test_ddp_gpu ] && grep -Eq "$ALLOWED_MPI" <<< "$n" && continue
    bad+=" $t needs $n;"
  done
  needed_all+="  $t: $(echo "$needed" | paste -sd' ')"$'\n'
  # The newest glibc/libstdc++ symbol versions it asks for.
  g=$(readelf -V "$STAGE/bin/$t" | grep -Eo 'GLIBC_[0-9.]+' | sed 's/GLIBC_//' | sort -V | tail -1)
  x=$(readelf -V "$STAGE/bin/$t" | grep -Eo 'GLIBCXX_[0-9.]+' | sed 's/GLIBCXX_//' | sort -V | tail -1)
  version_le "${g:-0}" "$max_glibc" || max_glibc=$g
  version_le "${x:-0}" "$max_glibcxx" || max_glibcxx=$x
done
[ -z "$bad" ] || die "libraries the GPU machine may not have:$bad (allowed: $ALLOWED, and $ALLOWED_MPI for test_ddp_gpu)"
version_le "$max_glibc" "$MAX_GLIBC" || die "the binaries need GLIBC_$max_glibc, newer than GLIBC_$MAX_GLIBC (MAX_GLIBC)"
version_le "$max_glibcxx" "$MAX_GLIBCXX" || die "the binaries need GLIBCXX_$max_glibcxx, newer than GLIBCXX_$MAX_GLIBCXX (MAX_GLIBCXX)"
# They must at least start here: without a GPU test_gpu says so and exits 77.
rc=0; "$STAGE/bin/test_gpu" > "$STAGE/run.txt" 2>&1 || rc=$?
[ "$rc" = 77 ] || [ "$rc" = 0 ] || { cat "$STAGE/run.txt"; die "test_gpu does not start here (exit $rc)"; }
"$STAGE/bin/train_mlp" --help > /dev/null 2>&1 || die "train_mlp --help failed"
"$STAGE/bin/bench_step" --help > /dev/null 2>&1 || die "bench_step --help failed"
# The names of doctest's cases are string literals in the binary.
smoke=$(strings "$STAGE/bin/test_gpu" | grep -c '^smoke: ' || true)
[ "$smoke" -gt 0 ] || say "WARNING: test_gpu has no 'smoke: ...' test cases; gpu-check.sh's smoke row will fail"

# ---------------------------------------------------------------- 4. pack
# Always an archive: it keeps the executable bits, whatever copies it.
tar -C "$STAGE/bin" -cf - "${TARGETS[@]}" | xz -T0 -6 > "$STAGE/bin.tar.xz"
packed=bin.tar.xz
rm -rf "${STAGE:?}/bin"
travel=$(stat -c %s "$STAGE/bin.tar.xz")
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
cudnn_v=$(grep -hE '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' /usr/local/cuda/include/cudnn_version.h /usr/include/cudnn_version.h /usr/include/x86_64-linux-gnu/cudnn_version.h 2>/dev/null | awk '{print $3}' | paste -sd. || true)
nccl_v=$(grep -hE '#define NCCL_(MAJOR|MINOR|PATCH) ' /usr/local/cuda/include/nccl.h /usr/include/nccl.h 2>/dev/null | awk '{print $3}' | paste -sd. || true)
{
  echo "commit: $commit$([ "$dirty" -gt 0 ] && echo " (plus $dirty changed files, uncommitted)")"
  echo "sources: $digest_before"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  # shellcheck disable=SC1091
  echo "host: $(uname -n), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "compilers: $(${CXX:-c++} --version | head -1); nvcc $("$NVCC" --version | grep -Eo 'release [0-9.]+' | cut -d' ' -f2)"
  echo "built against: cuDNN ${cudnn_v:-?}, NCCL ${nccl_v:-?}"
  echo "flags: ${FLAGS[*]}; MINIDP_MPI=OFF for test_gpu, train_mlp and bench_step ($BUILD), ON for test_ddp_gpu ($BUILD_MPI)"
  echo "build seconds: $build_s on $JOBS jobs"
  echo "packing: $packed"
  echo "stripped bytes: $total ($(mib $total)); travels as $travel bytes ($(mib "$travel"))"
  echo "sizes:"
  printf '%s' "$sizes"
  echo "needed:"
  printf '%s' "$needed_all"
  echo "newest symbol versions: GLIBC_$max_glibc GLIBCXX_$max_glibcxx"
  echo "smoke test cases: $smoke"
} > "$STAGE/MANIFEST"

rm -rf "$DEST"
mkdir -p "$DEST"
cp -r "$STAGE/MANIFEST" "$STAGE/$packed" "$DEST/"

# ---------------------------------------------------------------- 5. report
cat "$DEST/MANIFEST"
data_b=$(du -cb "$DATA" 2>/dev/null | tail -1 | cut -f1)
tree_b=$(git ls-files -z 2>/dev/null | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
sum=$(( ${tree_b:-0} + ${data_b:-0} + travel ))
say "$DEST: $(mib "$travel") ($packed); with the data ($(mib "${data_b:-0}")) and the tracked sources ($(mib "${tree_b:-0}")): $(mib $sum)"
[ "$sum" -le $(( TRAVEL_MB * 1048576 )) ] || say "WARNING: more than $TRAVEL_MB MiB (TRAVEL_MB) in all to copy to the GPU machine"
[ -z "$data_note" ] || say "WARNING: $data_note"
say "done in $(( $(date +%s) - T0 )) s; now run tools/gpu-check.sh on the GPU machine (it finds $DEST there)"
