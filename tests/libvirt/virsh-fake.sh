#!/bin/bash
# virsh-fake.sh - the unmodified virsh against the libvirt endpoint over the fake
# backend (build/tests/lv-fake-server): every command ksmvmm serves prints what the
# fake holds, life-cycle commands change it and raise events, an unserved procedure is
# "not supported", bad XML gets the backend's error.
set -u
cd "$(dirname "$0")/../.."
. tests/libvirt/lib.sh
lv_need virsh
lv_start

fails=0
out=$LV_DIR/out
# virsh 9.0 runs a save on a thread of its own and can miss that thread's end: when its
# g_main_loop_quit() comes before the main thread's g_main_loop_run(), virsh waits forever
# after the save is done (seen under load: 3 of 240 saves, refused ones included; the
# server had answered). Saves get a short limit (VT=5), and a save that hung after it
# was done is judged by what it did.
v() { timeout "${VT:-20}" virsh -c "$LV_URI" "$@" >"$out" 2>&1; }
ok() { # description, command... (must succeed)
	local what=$1
	shift
	if ! v "$@"; then
		echo "FAIL: $what: virsh $* failed:"
		sed 's/^/  | /' "$out"
		fails=$((fails + 1))
	fi
}
has() { # description, extended regex that the last output must match
	if ! grep -Eq -- "$2" "$out"; then
		echo "FAIL: $1: no /$2/ in:"
		sed 's/^/  | /' "$out"
		fails=$((fails + 1))
	else
		echo "ok: $1"
	fi
}
hasnt() {
	if grep -Eq -- "$2" "$out"; then
		echo "FAIL: $1: /$2/ in:"
		sed 's/^/  | /' "$out"
		fails=$((fails + 1))
	else
		echo "ok: $1"
	fi
}
bad() { # description, regex, command... (must fail and print the regex)
	local what=$1 re=$2
	shift 2
	if v "$@"; then
		echo "FAIL: $what: virsh $* succeeded"
		fails=$((fails + 1))
	fi
	has "$what" "$re"
}

ok version version
has "version names the hypervisor" '^Running hypervisor: KSMVMM 0\.1\.0'
ok list list
has "list shows running fake-alpha with its id" '^ *7 +fake-alpha +running'
hasnt "list hides shut-off fake-beta" 'fake-beta'
ok "list --all" list --all
has "list --all shows fake-beta shut off" '^ *- +fake-beta +shut off'
ok dominfo dominfo fake-alpha
has "dominfo id" '^Id: +7$'
has "dominfo uuid" '^UUID: +10111213-1415-1617-1819-1a1b1c1d1e1f$'
has "dominfo max memory" '^Max memory: +262144 KiB'
has "dominfo used memory" '^Used memory: +196608 KiB'
has "dominfo vcpus" '^CPU\(s\): +2$'
has "dominfo cpu time" '^CPU time: +4\.2s'
has "dominfo autostart" '^Autostart: +enable'
has "dominfo os type" '^OS Type: +hvm'
ok dumpxml dumpxml fake-gamma
has "dumpxml from the backend" '<name>fake-gamma</name>'
has "dumpxml memory" "<memory unit='KiB'>131072</memory>"
ok dommemstat dommemstat fake-alpha
has "dommemstat actual" '^actual 196608$'
has "dommemstat rss" '^rss 54321$'
has "dommemstat usable" '^usable 22222$'
ok domstats domstats fake-alpha
has "domstats header" "^Domain: 'fake-alpha'"
has "domstats ksmvmm figure" 'ksmvmm\.shared_pages=4242'
has "domstats string parameter" 'ksmvmm\.group=fake-group'
ok "domstats all" domstats
has "domstats lists every domain" "^Domain: 'fake-beta'"
ok domblkstat domblkstat fake-alpha vda
has "domblkstat reads" '^vda rd_req 107$'
has "domblkstat bytes read" '^vda rd_bytes 409600$'
has "domblkstat writes" '^vda wr_req 30$'
has "domblkstat bytes written" '^vda wr_bytes 122880$'
has "domblkstat flushes" '^vda flush_operations 3$'
hasnt "domblkstat leaves out what is unknown" 'errs'
ok "domblkstat by source path" domblkstat fake-gamma /fake/fake-gamma.img
has "domblkstat by source path reads" 'rd_req 109$'
bad "domblkstat of an unknown disk" 'invalid argument: invalid path: vdq' \
	domblkstat fake-alpha vdq
bad "domblkstat of a domain that is off" 'domain is not running' domblkstat fake-beta vda
bad "domifstat names the unknown interface" "invalid argument: 'eth0' is not a known interface" \
	domifstat fake-alpha eth0
ok metadata metadata fake-alpha https://ksmvmm.dev/xmlns/domain/1
has "metadata element" '<ksmvmm:group>fake-group</ksmvmm:group>'
bad "metadata of another namespace" 'metadata not found' metadata fake-alpha http://example.org/x
ok node-memory-tune node-memory-tune
has "node-memory-tune shared" 'shm_pages_shared +1000'
has "node-memory-tune sharing" 'shm_pages_sharing +1111'
has "node-memory-tune full scans" 'shm_full_scans +1444'
has "node-memory-tune sleep" 'shm_sleep_millisecs +20'
ok "node-memory-tune set" node-memory-tune --shm-pages-to-scan 777
ok node-memory-tune node-memory-tune
has "node-memory-tune took the new value" 'shm_pages_to_scan +777'
bad "node-memory-tune refuses what the backend refuses" "cannot set 'shm_merge_across_nodes'" \
	node-memory-tune --shm-merge-across-nodes 1

# Events: a listener sees what the commands below do.
timeout 30 virsh -c "$LV_URI" event --all --loop >"$LV_DIR/events" 2>&1 &
ev_pid=$!
# Ready once it has registered: the fake server's SIGUSR1 events reach it.
for _ in $(seq 40); do
	kill -USR1 "$LV_PID"
	sleep 0.5
	grep -q "fake-alpha': Crashed" "$LV_DIR/events" && break
done

cat >"$LV_DIR/new.xml" <<'XML'
<domain type='kvm'><name>fake-new</name><memory unit='KiB'>98304</memory></domain>
XML
cat >"$LV_DIR/transient.xml" <<'XML'
<domain type='kvm'><name>fake-transient</name><memory unit='KiB'>65536</memory></domain>
XML
echo '<domain type="kvm"><memory>1</memory></domain>' >"$LV_DIR/bad.xml"

ok define define "$LV_DIR/new.xml"
has "define names the domain" "Domain 'fake-new' defined"
ok "define --validate" define --validate "$LV_DIR/new.xml"
bad "define of bad XML gets the backend's error" 'XML error: a name is required' \
	define "$LV_DIR/bad.xml"
ok "list --all after define" list --all
has "defined domain listed shut off" '^ *- +fake-new +shut off'
ok autostart autostart fake-new
ok dominfo dominfo fake-new
has "autostart took" '^Autostart: +enable'
ok start start fake-new
ok dominfo dominfo fake-new
has "started domain runs with a new id" '^Id: +1[0-9]$'
has "started domain state" '^State: +running'
bad "start twice" 'already active' start fake-new
ok create create "$LV_DIR/transient.xml"
ok list list
has "created domain runs" 'fake-transient +running'
ok dominfo dominfo fake-transient
has "created domain is transient" '^Persistent: +no'
ok "destroy transient" destroy fake-transient
ok "list --all" list --all
hasnt "a destroyed transient domain is gone" 'fake-transient'
ok shutdown shutdown fake-new
ok dominfo dominfo fake-new
has "shut down" '^State: +shut off'
ok undefine undefine fake-new
ok "list --all" list --all
hasnt "undefined domain gone" 'fake-new'
bad "unknown domain" "failed to get domain 'nosuch'" dominfo nosuch
bad "a procedure ksmvmm does not serve" 'not supported' suspend fake-alpha

# save / restore: the path travels absolute, the domain shuts off "saved" and comes
# back "restored"; flags we lack are refused by name, a second save into the same
# directory and a restore of what is no snapshot get the backend's error.
(cd "$LV_DIR" && timeout 5 virsh -c "$LV_URI" save fake-gamma saved-g) >"$out" 2>&1
if [ $? -eq 124 ]; then
	echo "note: virsh hung after the save of a relative path (its save-thread race)"
else
	has "save of a relative path" "Domain 'fake-gamma' saved to saved-g"
fi
[ -f "$LV_DIR/saved-g/fake-saved" ] || { echo "FAIL: save did not reach $LV_DIR/saved-g"; fails=$((fails + 1)); }
ok domstate domstate --reason fake-gamma
has "a saved domain is shut off" '^shut off \(saved\)'
VT=5 bad "save of a domain that is off" "Failed to save domain 'fake-gamma'" \
	save fake-gamma "$LV_DIR/saved-x"
ok restore restore "$LV_DIR/saved-g"
has "restore" "Domain restored from"
ok domstate domstate --reason fake-gamma
has "a restored domain runs" '^running \(restored\)'
bad "restore while it runs" 'already running' restore "$LV_DIR/saved-g"
# The same race makes virsh print the server's reason for a refused save only some of
# the time (seen: about half the runs print just "Failed to save domain");
# python-fake.py checks each reason, by name, through python3-libvirt.
VT=5 bad "save into an existing directory" "Failed to save domain 'fake-gamma'" \
	save fake-gamma "$LV_DIR/saved-g"
VT=5 bad "save --paused" "Failed to save domain 'fake-gamma'" \
	save --paused fake-gamma "$LV_DIR/saved-p"
VT=5 bad "save --bypass-cache" "Failed to save domain 'fake-gamma'" \
	save --bypass-cache fake-gamma "$LV_DIR/saved-p"
VT=5 bad "save --xml" "Failed to save domain 'fake-gamma'" \
	save --xml "$LV_DIR/new.xml" fake-gamma "$LV_DIR/saved-p"
bad "restore --paused" 'argument unsupported: VIR_DOMAIN_SAVE_PAUSED' restore --paused "$LV_DIR/saved-g"
[ ! -e "$LV_DIR/saved-p" ] || { echo "FAIL: a refused save made saved-p"; fails=$((fails + 1)); }
mkdir "$LV_DIR/nosnap"
bad "restore of what is no snapshot" 'not a snapshot' restore "$LV_DIR/nosnap"
VT=5 v save --running fake-gamma "$LV_DIR/saved-r"
rc=$?
if [ $rc -ne 0 ] && { [ $rc -ne 124 ] || [ ! -f "$LV_DIR/saved-r/fake-saved" ]; }; then
	echo "FAIL: save --running: virsh exit $rc:"
	sed 's/^/  | /' "$out"
	fails=$((fails + 1))
fi
[ $rc -eq 124 ] && echo "note: virsh hung after save --running (its save-thread race)"
ok "restore --running" restore --running "$LV_DIR/saved-r"

before=$(grep -c "Crashed" "$LV_DIR/events")
kill -USR1 "$LV_PID" # three events from a thread outside the main loop
for _ in $(seq 100); do
	[ "$(grep -c "Crashed" "$LV_DIR/events")" -ge $((before + 3)) ] && break
	sleep 0.1
done
kill "$ev_pid" 2>/dev/null
wait "$ev_pid" 2>/dev/null
cp "$LV_DIR/events" "$out"
has "event: defined" "event 'lifecycle' for domain 'fake-new': Defined Added"
has "event: redefined" "event 'lifecycle' for domain 'fake-new': Defined Updated"
has "event: started" "event 'lifecycle' for domain 'fake-new': Started Booted"
has "event: transient destroyed" "event 'lifecycle' for domain 'fake-transient': Stopped Destroyed"
has "event: shut down" "event 'lifecycle' for domain 'fake-new': Stopped Shutdown"
has "event: undefined" "event 'lifecycle' for domain 'fake-new': Undefined Removed"
has "event: saved" "event 'lifecycle' for domain 'fake-gamma': Stopped Saved"
has "event: restored" "event 'lifecycle' for domain 'fake-gamma': Started Restored"
crashes=$(grep -o "fake-alpha': Crashed [A-Za-z]*" "$out" | cut -d' ' -f3 | tail -n 3 | tr '\n' ' ')
if [ "$crashes" = "Panicked Crashloaded unknown " ]; then
	echo "ok: events from another thread, in order"
else
	echo "FAIL: events from another thread: got '$crashes'"
	fails=$((fails + 1))
fi

kill -0 "$LV_PID" 2>/dev/null || { echo "FAIL: the server died"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || { echo "FAIL: $fails checks failed"; exit 1; }
echo "PASS: virsh against the fake backend"
