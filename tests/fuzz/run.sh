#!/bin/sh
# run.sh NAME SEED...: runs the fuzz target tests/fuzz/fuzz_NAME (make fuzz
# builds it) under libFuzzer for $FUZZ_SECONDS seconds, from the build
# directory, with the dictionary $FUZZ_DIR/NAME.dict if there is one. New
# inputs go to tests/fuzz/corpus-NAME, which later runs start from; the SEED
# files and directories (the source tree's) are only read.
# Prints one line of figures (runs, coverage, corpus). On a crash, a leak,
# undefined behaviour or an input slower than $FUZZ_TIMEOUT seconds, prints
# the end of the log and the input that did it, and exits 1.
set -u

name=$1
shift
fuzzer=tests/fuzz/fuzz_$name
corpus=tests/fuzz/corpus-$name
log=tests/fuzz/fuzz_$name.log
seconds=${FUZZ_SECONDS:-30}

if [ -f "${FUZZ_DIR:-.}/$name.dict" ]; then
	set -- -dict="${FUZZ_DIR:-.}/$name.dict" "$@"
fi
mkdir -p "$corpus" || exit 1
rm -f "tests/fuzz/crash-$name"
echo "fuzz $name: $seconds s (log: $log)"
"$fuzzer" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 \
	-exact_artifact_path="tests/fuzz/crash-$name" \
	"$corpus" "$@" >"$log" 2>&1
rc=$?

# libFuzzer's last status line: "#RUNS DONE cov: N ft: N corp: N/SIZE ...".
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
field() { printf '%s\n' "$done_line" | sed -n "s/.* $1: \([^ ]*\).*/\1/p"; }
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)

if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
	echo "fuzz $name: ${runs:-?} runs, cov: $(field cov), ft: $(field ft), corpus: $(field corp), no crash"
	exit 0
fi
echo "fuzz $name: FAILED (libFuzzer exit status $rc, ${runs:-?} runs); from $log:"
# From the first report (a sanitizer's, libFuzzer's or the target's own).
first=$(grep -n -m 1 -E '==[0-9]+== ?ERROR|runtime error:|ALARM:|out-of-memory|^fuzz_[a-z]+: ' \
	"$log" | cut -d: -f1)
if [ -n "$first" ]; then
	# Up to its SUMMARY line (at most 40 lines, and then that line).
	awk -v first="$first" '
		NR >= first && n < 40 && !shown { print; n++; if (/^SUMMARY:/) shown = 1 }
		/^SUMMARY:/ && !summary { summary = $0 }
		END { if (!shown && summary != "") print summary }' "$log"
else
	tail -n 40 "$log"
fi
if [ -f "tests/fuzz/crash-$name" ]; then
	echo "fuzz $name: the input that failed is $(pwd)/tests/fuzz/crash-$name"
	echo "fuzz $name: run it again with: $fuzzer tests/fuzz/crash-$name"
	echo "fuzz $name: once fixed, keep it as a case in tests/data (see HACKING, Tests)"
fi
exit 1
