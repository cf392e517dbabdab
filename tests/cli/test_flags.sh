# Bad flags and output locations for condense, prune and evaluate: exit 1, one line naming the flag or path,
# nothing on stdout, nothing created, and no compute before the refusal (every case returns in well under a second).
# Usage: test_flags.sh CONDENSE PRUNE EVALUATE (with $YOCO_SOURCE_DIR set).
. "$(dirname "$0")/expect_refusal.sh"
CONDENSE=$(realpath -- "$1") PRUNE=$(realpath -- "$2") EVALUATE=$(realpath -- "$3")
SET=$(realpath -- "${YOCO_SOURCE_DIR:-.}/assets/fashion-mnist_ipc10_f2.npz")
for b in "$CONDENSE" "$PRUNE" "$EVALUATE"; do [ -x "$b" ] || { echo "skip: no binary '$b'"; exit 77; }; done
[ -f "$SET" ] || { echo "skip: no shipped set $SET"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
echo x >"$T/file"
mkdir "$T/dir"

# ---- condense ----
NO_OUTPUTS="$T/c.npz $T/c.npz.ckpt.npz"
refuses "condense --niter -3" "--niter: expected a positive integer, got '-3'" "$CONDENSE" -o "$T/c.npz" --niter -3
refuses "condense --ipc overflow" "--ipc" "$CONDENSE" -o "$T/c.npz" --ipc 99999999999999999999
refuses "condense --factor 0" "--factor" "$CONDENSE" -o "$T/c.npz" -f 0
refuses "condense --checkpoint-every -1" "--checkpoint-every" "$CONDENSE" -o "$T/c.npz" --checkpoint-every -1
refuses "condense --eval-epochs abc" "--eval-epochs" "$CONDENSE" -o "$T/c.npz" --eval-epochs abc
refuses "condense --seed -1" "--seed" "$CONDENSE" -o "$T/c.npz" --seed -1
refuses "condense unknown flag" "--bogus" "$CONDENSE" -o "$T/c.npz" --bogus
refuses "condense without -o" "--out" "$CONDENSE" --niter 1
refuses "condense --store f8" "--store" "$CONDENSE" -o "$T/c.npz" --store f8
refuses "condense --device tpu" "--device" "$CONDENSE" -o "$T/c.npz" --device tpu
refuses "condense -o in a missing directory" "$T/missing" "$CONDENSE" -o "$T/missing/c.npz" --niter 1
refuses "condense -o under a file" "-o/--out" "$CONDENSE" -o "$T/file/c.npz" --niter 1
refuses "condense -o is a directory" "is a directory" "$CONDENSE" -o "$T/dir" --niter 1
NO_OUTPUTS="$T/c.npz $T/c.npz.ckpt.npz $T/missing"
refuses "condense --png in a missing directory" "--png" "$CONDENSE" -o "$T/c.npz" --png "$T/missing/p.png"

# ---- evaluate ----
NO_OUTPUTS="$T/e.json"
refuses "evaluate --epochs 0" "--epochs: expected a positive integer, got '0'" "$EVALUATE" -i "$SET" --epochs 0
refuses "evaluate --batch -1" "--batch" "$EVALUATE" -i "$SET" --batch -1
refuses "evaluate --cutmix-p 1.5" "--cutmix-p: expected a number in [0, 1], got '1.5'" "$EVALUATE" -i "$SET" --cutmix-p 1.5
refuses "evaluate --cutmix-p nan" "--cutmix-p" "$EVALUATE" -i "$SET" --cutmix-p nan
refuses "evaluate --repeat overflow" "--repeat" "$EVALUATE" -i "$SET" --repeat 99999999999999999999
refuses "evaluate --depth 0" "--depth" "$EVALUATE" -i "$SET" --depth 0
refuses "evaluate two sources" "--full" "$EVALUATE" -i "$SET" --full
refuses "evaluate no source" "--input" "$EVALUATE" --epochs 1
refuses "evaluate unknown flag" "--bogus" "$EVALUATE" -i "$SET" --bogus 3
refuses "evaluate --json in a missing directory" "--json" "$EVALUATE" -i "$SET" --epochs 1 --json "$T/missing/e.json"
refuses "evaluate --json is a directory" "--json" "$EVALUATE" -i "$SET" --epochs 1 --json "$T/dir"
refuses "evaluate missing input file" "$T/none.npz" "$EVALUATE" -i "$T/none.npz" --epochs 1

# ---- prune ----
NO_OUTPUTS="$T/s.npz $T/out $T/conv.npz $T/table"
refuses "prune without subcommand" "subcommand" "$PRUNE"
refuses "prune unknown subcommand" "unknown subcommand 'scroe'" "$PRUNE" scroe -i "$SET"
refuses "prune score unknown flag" "--bogus" "$PRUNE" score -i "$SET" -o "$T/s.npz" --bogus
refuses "prune score --epochs -3" "--epochs: expected a positive integer, got '-3'" "$PRUNE" score -i "$SET" -o "$T/s.npz" --epochs -3
refuses "prune score --cutmix-p 2" "--cutmix-p" "$PRUNE" score -i "$SET" -o "$T/s.npz" --cutmix-p 2
refuses "prune score --stop-epoch 0" "--stop-epoch" "$PRUNE" score -i "$SET" -o "$T/s.npz" --stop-epoch 0
refuses "prune score --top-k x" "--top-k" "$PRUNE" score -i "$SET" -o "$T/s.npz" --top-k x
refuses "prune score -o in a missing directory" "-o/--out" "$PRUNE" score -i "$SET" -o "$T/missing/s.npz"
refuses "prune select empty -m" "-m/--method" "$PRUNE" select -i "$SET" -s "$T/s.npz" -m "" -o "$T/out"
refuses "prune select -m of commas" "-m/--method" "$PRUNE" select -i "$SET" -s "$T/s.npz" -m "," -o "$T/out"
refuses "prune select unknown method" "yocco" "$PRUNE" select -i "$SET" -s "$T/s.npz" -m yocco -o "$T/out"
refuses "prune select empty -t" "-t/--ipc-target" "$PRUNE" select -i "$SET" -s "$T/s.npz" -t "" -o "$T/out"
refuses "prune select -t 0" "-t/--ipc-target" "$PRUNE" select -i "$SET" -s "$T/s.npz" -t 0 -o "$T/out"
refuses "prune select -t 1,,2" "-t/--ipc-target" "$PRUNE" select -i "$SET" -s "$T/s.npz" -t 1,,2 -o "$T/out"
refuses "prune select -t overflow" "-t/--ipc-target" "$PRUNE" select -i "$SET" -s "$T/s.npz" -t 99999999999999999999 -o "$T/out"
refuses "prune select -o under a file" "-o/--out-dir" "$PRUNE" select -i "$SET" -s "$T/s.npz" -o "$T/file/out"
refuses "prune select --store f8" "--store" "$PRUNE" select -i "$SET" -s "$T/s.npz" -o "$T/out" --store f8
refuses "prune convert .pt input without --factor" "--factor" "$PRUNE" convert -i "$T/x.pt" -o "$T/conv.npz" --dataset fashion-mnist
refuses "prune convert -o in a missing directory" "-o/--out" "$PRUNE" convert -i "$SET" -o "$T/missing/c.npz" --store f16
refuses "prune convert -o is a directory" "is a directory" "$PRUNE" convert -i "$SET" -o "$T/dir" --store f16
refuses "prune table --seeds 0" "--seeds" "$PRUNE" table -i "$SET" --seeds 0 -o "$T/table"
refuses "prune table --report-only on a missing dir" "$T/table" "$PRUNE" table -i "$SET" --report-only -o "$T/table"
refuses "prune table -m empty" "-m/--method" "$PRUNE" table -i "$SET" -m "" -o "$T/table"
refuses "prune demo --eval-epochs 0" "--eval-epochs" "$PRUNE" demo --eval-epochs 0 -o "$T/table"
refuses "prune demo -o under a file" "-o/--out-dir" "$PRUNE" demo -o "$T/file/demo"

# --help is not an error: help on stdout, exit 0.
succeeds "prune --help exits 0" "$PRUNE" --help
succeeds "condense --help exits 0" "$CONDENSE" --help
finish
