#!/bin/bash
# options-help.sh - `ksmvmm --help`, README.md's `ksmvmm run` option table and the
# parser's option table (long_opts in vmm/options.c) name the same options. Runs
# without KVM. (test_options checks that options_parse accepts what --help lists.)
set -u
cd "$(dirname "$0")/../.."

VMM=${KSMVMM:-build/ksmvmm}
[ -x "$VMM" ] || { echo "SKIPPED: $VMM is not built (make all)"; exit 77; }

opts() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

help=$("$VMM" --help) || { echo "FAIL: $VMM --help exited $?"; exit 1; }
# Options described: the first word of a line that starts with "  --".
described=$(grep -- '^  --' <<<"$help" | awk '{print $1}' | opts)
mentioned=$(opts <<<"$help")
# README: first column of the rows after "`ksmvmm run` options:", up to the first blank line.
readme=$(awk '/^`ksmvmm run` options:/ {on = 1; next} on && /^\|/ {print; seen = 1; next}
	      on && seen && /^$/ {exit}' README.md | sed 's/ | .*//' | opts)
parser=$(grep -o '{"[a-z][a-z0-9-]*", *[a-z]*_argument' vmm/options.c | sed 's/{"\([^"]*\)".*/--\1/' |
	sort -u)

fail=0
for v in described readme parser; do
	n=$(wc -w <<<"${!v}")
	echo "$v: $n options"
	if [ "$n" -lt 10 ]; then
		echo "FAIL: found only $n options in $v: the extraction is broken"
		fail=1
	fi
done

differ() { # name-a, name-b: options in a that b lacks
	local extra
	extra=$(comm -23 <(echo "${!1}") <(echo "${!2}"))
	if [ -n "$extra" ]; then
		echo "FAIL: $1 lists what $2 lacks:" $extra
		fail=1
	fi
}
differ mentioned described # every option --help names has a line of its own
differ described readme
differ readme described
differ described parser
differ parser described
[ $fail -eq 0 ] && echo "ok: --help, README.md and the parser agree"
exit $fail
