# prune select/convert with hostile scores and set files, and re-pruning pruned sets: every refusal exits 1 with one
# line naming the file, prints nothing on stdout and leaves no output directory; valid re-pruning succeeds.
# Usage: test_prune_inputs.sh CONDENSE PRUNE EVALUATE (with $YOCO_SOURCE_DIR set).
. "$(dirname "$0")/expect_refusal.sh"
PRUNE=$(realpath -- "$2")
SET=$(realpath -- "${YOCO_SOURCE_DIR:-.}/assets/fashion-mnist_ipc10_f2.npz")
[ -x "$PRUNE" ] || { echo "skip: no binary '$2'"; exit 77; }
[ -f "$SET" ] || { echo "skip: no shipped set $SET"; exit 77; }
PY=$(numpy_python)
[ -n "$PY" ] || { echo "skip: no python3 with numpy to craft bad files"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
cp "$SET" "$T/set.npz"

# One short scoring run for the whole script (a few seconds).
"$PRUNE" score -i "$T/set.npz" -o "$T/scores.npz" --epochs 3 --stop-epoch 2 >/dev/null 2>"$T/score.log" ||
  { echo "FAIL scoring run: $(tail -c 300 "$T/score.log")"; echo "0 passed, 1 failed"; exit 1; }

# craft OUT EDIT: a copy of scores.npz whose arrays (dict a) and meta (dict m) the python statement EDIT changed.
craft() {
  "$PY" - "$T/scores.npz" "$1" "$2" <<'PYEOF'
import json, sys, numpy as np
src, out, edit = sys.argv[1:]
z = np.load(src)
a = {k: z[k] for k in z.files if k != "meta"}
m = json.loads(bytes(z["meta"]).decode())
exec(edit)
a["meta"] = np.frombuffer(json.dumps(m).encode(), dtype=np.uint8)
with open(out, "wb") as f:
    np.savez(f, **a)
PYEOF
}

NO_OUTPUTS="$T/out"
select_with() {  # select_with NAME PATTERN SCORES [more flags]: the select run must refuse
  local name=$1 pattern=$2 scores=$3
  shift 3
  refuses "$name" "$pattern" "$PRUNE" select -i "$T/set.npz" -s "$scores" -o "$T/out" "$@"
}
craft "$T/bad_label.npz" 'a["labels"][-1] = 10'
select_with "label >= classes" "bad_label.npz: entry 'labels'" "$T/bad_label.npz"
craft "$T/nan_el2n.npz" 'a["scores/el2n"][5] = np.nan'
select_with "NaN score used by ccs" "nan_el2n.npz: entry 'scores/el2n' holds nan" "$T/nan_el2n.npz" -m ccs
craft "$T/inf_yoco.npz" 'a["scores/yoco"][0] = np.inf'
select_with "inf score" "inf_yoco.npz: entry 'scores/yoco'" "$T/inf_yoco.npz"
craft "$T/scores_2d.npz" 'a["scores/yoco"] = np.stack([a["scores/yoco"]] * 2, 1)'
select_with "2-D score array" "scores_2d.npz: entry 'scores/yoco' is f32[400,2]" "$T/scores_2d.npz"
craft "$T/short.npz" 'a["scores/yoco"] = a["scores/yoco"][:10]'
select_with "short score array" "short.npz: entry 'scores/yoco'" "$T/short.npz"
craft "$T/f64.npz" 'a["scores/yoco"] = a["scores/yoco"].astype(np.float64)'
select_with "f64 score array" "f64.npz" "$T/f64.npz"
craft "$T/ipc_from.npz" 'm["ipc_from"] = 20'
select_with "ipc_from disagrees with the set" "ipc_from.npz: meta field 'ipc_from' is 20, expected 10" "$T/ipc_from.npz"
craft "$T/classes.npz" 'm["num_classes"] = "ten"'
select_with "num_classes of the wrong type" "classes.npz: meta field 'num_classes'" "$T/classes.npz"
craft "$T/dataset.npz" 'm["dataset"] = "cifar10"'
select_with "dataset disagrees" "dataset.npz: meta field 'dataset'" "$T/dataset.npz"
craft "$T/nokind.npz" 'del m["kind"]'
select_with "meta without kind" "nokind.npz: meta field 'kind' is missing" "$T/nokind.npz"
craft "$T/fp.npz" 'm["set_fingerprint"] = "0123456789abcdef"'
select_with "scores of another set" "fp.npz: these scores were computed on another set" "$T/fp.npz"
craft "$T/feat_nan.npz" 'a["features"][3, 7] = np.nan'
select_with "NaN feature (ssp)" "feat_nan.npz: entry 'features'" "$T/feat_nan.npz" -m ssp
craft "$T/feat_1d.npz" 'a["features"] = a["features"][:, 0]'
select_with "1-D features" "feat_1d.npz: entry 'features'" "$T/feat_1d.npz"
craft "$T/nolabels.npz" 'del a["labels"]'
select_with "no labels entry" "nolabels.npz: no 'labels' entry" "$T/nolabels.npz"
head -c 1000 "$T/scores.npz" >"$T/truncated.npz"
select_with "truncated scores file" "truncated.npz" "$T/truncated.npz"
select_with "a set file as scores" "set.npz" "$T/set.npz"
select_with "target equal to the set's IPC" "--ipc-target 10 is not below the set's IPC 10" "$T/scores.npz" -t 1,10
select_with "one bad method among good ones" "nope" "$T/scores.npz" -m yoco,nope

# Duplicates name one output each.
succeeds "select with duplicate methods and targets" "$PRUNE" select -i "$T/set.npz" -s "$T/scores.npz" \
  -m yoco,yoco_easy_balance,el2n,el2n_hard -t 5,5 -o "$T/p1"
n=$(ls "$T/p1" | wc -l)
if [ "$n" -eq 2 ]; then pass "duplicates kept once"; else fail "duplicates kept once" "$n files: $(ls "$T/p1")"; fi

# Re-pruning: el2n's output is imbalanced (class_counts); any rule prunes it again.
"$PRUNE" score -i "$T/p1/el2n_ipc5.npz" -o "$T/scores2.npz" --epochs 3 --stop-epoch 2 >/dev/null 2>"$T/score2.log" ||
  fail "scoring the pruned set" "$(tail -c 300 "$T/score2.log")"
succeeds "re-prune an imbalanced pruned set with every rule" "$PRUNE" select -i "$T/p1/el2n_ipc5.npz" \
  -s "$T/scores2.npz" -m yoco,el2n,ssp,ccs,random,random_balance -t 2 -o "$T/p2"
if "$PY" - "$T/p2" <<'PYEOF'; then pass "re-pruned meta describes each set as it is"; else fail "re-pruned meta" "see above"; fi
import json, sys, numpy as np
d = sys.argv[1]
def meta(name):
    z = np.load(f"{d}/{name}.npz")
    return json.loads(bytes(z["meta"]).decode()), z["labels"]
m, l = meta("yoco_ipc2")  # balanced: 2 per class, no class_counts
assert "class_counts" not in m and m["ipc"] == 2 and len(l) == 20, m
assert m["config"]["pruned_from"]["pruned_from"]["method"] == "idc", m["config"]["pruned_from"]
m, l = meta("el2n_ipc2")  # imbalanced: counts that add up to the file
assert sum(m.get("class_counts", [m["ipc"]] * m["num_classes"])) == len(l), m
PYEOF
NO_OUTPUTS="$T/p4"
refuses "balanced target above a class's count" "class" "$PRUNE" select -i "$T/p1/el2n_ipc5.npz" \
  -s "$T/scores2.npz" -m yoco -t 19 -o "$T/p4"
refuses "scores of the source used on the pruned set" "scores.npz" "$PRUNE" select -i "$T/p1/el2n_ipc5.npz" \
  -s "$T/scores.npz" -t 2 -o "$T/p4"

# convert: onto the input itself (atomic: read whole, temp file, rename); a bad input is left untouched.
NO_OUTPUTS=""
succeeds "convert onto the input itself" "$PRUNE" convert -i "$T/p2/yoco_ipc2.npz" -o "$T/p2/yoco_ipc2.npz" --store f16
succeeds "the converted file loads" "$PRUNE" convert -i "$T/p2/yoco_ipc2.npz" -o "$T/back.npz" --store f32
if ls "$T/p2" | grep -q tmp; then fail "no temporary left" "$(ls "$T/p2")"; else pass "no temporary left"; fi
echo "not a zip" >"$T/bad.npz"
cp "$T/bad.npz" "$T/bad.orig"
refuses "convert a bad file onto itself" "bad.npz" "$PRUNE" convert -i "$T/bad.npz" -o "$T/bad.npz" --store f16
if cmp -s "$T/bad.npz" "$T/bad.orig"; then pass "bad input untouched"; else fail "bad input untouched" "changed"; fi
finish
