# Shared by the mpi tests: tiny runs under mpirun as root on a small machine, pass/fail counting, a temp dir.
# Sourced with $1 = condense, $2 = prune, $3 = mpirun; sets CONDENSE, PRUNE, MPIRUN, DATA, T, ok/bad/finish.
CONDENSE=$1 PRUNE=$2 MPIRUN=$3
DATA=${YOCO_DATA_DIR:+$YOCO_DATA_DIR/fashion-mnist}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
if [[ ! -d $DATA ]]; then echo "skip: no Fashion-MNIST at $DATA"; exit 77; fi
if ! command -v "$MPIRUN" >/dev/null; then echo "skip: no mpirun ($MPIRUN)"; exit 77; fi
# Root on CI, more ranks than cores here: allowed explicitly. One thread in every process, reference runs
# included: the bits depend on the thread count (even with im2col convolutions), not on the number of ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 YOCO_CONV=im2col
mpi() { local np=$1; shift; "$MPIRUN" --allow-run-as-root --oversubscribe -np "$np" "$@"; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [[ $fail -eq 0 ]]; exit $?; }
