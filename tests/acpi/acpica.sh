#!/bin/bash
# acpica.sh - the ACPI tables of a Linux guest, read by ACPICA's own tools (acpica-tools):
# iasl disassembles the FADT, MADT and DSDT without a complaint, and acpiexec, the same
# interpreter Linux runs, evaluates the DSDT: \_SB.VGEN.ADDR gives the generation ID's
# address, and the generic event device's _EVT notifies VGEN with 0x80 (what makes
# Linux's vmgenid driver read a new ID). The tables come from build/unit/test_acpi --dump.
set -u
cd "$(dirname "$0")/../.."

for t in iasl acpiexec; do
	command -v $t >/dev/null || { echo "SKIPPED: $t is not installed (Debian acpica-tools)"; exit 77; }
done
T=$(mktemp -d /tmp/acpica.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

build/unit/test_acpi --dump "$T" || fail "test_acpi --dump"
(cd "$T" && iasl -d FACP.dat APIC.dat DSDT.dat) >"$T/iasl.log" 2>&1 || {
	cat "$T/iasl.log"
	fail "iasl -d refused a table"
}
if grep -i -E "error|warning|invalid|checksum is incorrect" "$T/iasl.log" "$T"/*.dsl; then
	fail "iasl complained (above)"
fi
grep -q 'Name (_HID, "VMGENCTR")' "$T/DSDT.dsl" || fail "no VMGENCTR device in the DSDT"
grep -q 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive' "$T/DSDT.dsl" ||
	fail "the GED's interrupt is not an exclusive edge"
grep -q 'PM1A Event Block Address : 00000600' "$T/FACP.dsl" || fail "PM1a event block"

timeout 60 acpiexec -b 'evaluate \_SB.VGEN.ADDR; evaluate \_SB.GED_._EVT 3' \
	"$T/DSDT.dat" >"$T/exec.log" 2>&1 || {
	cat "$T/exec.log"
	fail "acpiexec failed"
}
python3 - "$T/exec.log" <<'PY' || { cat "$T/exec.log"; fail "acpiexec's results"; }
import re, sys
log = open(sys.argv[1]).read()
ints = re.findall(r"\[Integer\] = ([0-9A-F]+)", log)
assert [int(x, 16) for x in ints] == [0x9EF00, 0], ints
assert re.search(r"Notify on \[VGEN\] .* Value 0x80", log), "no Notify(VGEN, 0x80)"
assert "Error" not in log and "AE_" not in log.replace("AE_OK", ""), "ACPICA errors"
PY
echo "PASS: iasl disassembled FADT, MADT, DSDT cleanly; acpiexec: ADDR = 0x9ef00, _EVT notified VGEN 0x80"
