#!/bin/bash
# vm-run: --disk a:512M --timeout 2400
# check: long (make check-long: about 20 minutes under load)
# A hundred snapshots of one filesystem (issue 5, tests 1, 2 and 5).
#
# 1. 100 snapshots are taken with changes in between (overwrites, new files,
#    deletes, truncates, renames, files and a directory that live only
#    between two snapshots); the tree (without the snapshot directory) is
#    recorded at each instant. A sample (1, 2, 25, 50, 75, 99, 100), bound
#    and mounted, must show exactly its record and be fsck-clean, and
#    fsck.ext3snap -fn of the unmounted origin holding 100 snapshots is
#    clean.
# 2. With 100 snapshots present, large writes, overwrites of files the
#    newest snapshot holds, truncates, punched holes and many small files:
#    no jbd2, credit or ext4 error line in the kernel log (the runner fails
#    on any WARNING), and the snapshots stay exact.
# 3. The snapshots are deleted in a seeded random order that starts with the
#    first, a middle one and the last; every 10 deletes the list matches
#    what is left and a sample of the remaining ones still equals its
#    record. At the end: no snapshot file, an empty list, the space back,
#    plain e2fsck clean and no has_snapshot flag.
# It prints the time of each take, the blocks each snapshot holds and the
# guest's memory use; those numbers are reported, not asserted.
#
# In the guest, SNAP_MANY_N (default 100) and SNAP_MANY_SEED (default 5)
# change the count and the seed: scripts/vm-run OPTIONS -- env
# SNAP_MANY_SEED=7 tests/vm/snap-many.sh
. "$(dirname "$0")/lib.sh"

N=${SNAP_MANY_N:-100}
SEED=${SNAP_MANY_SEED:-5}
dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snaps=$src/.snapshots
man=/tmp/many
py=/usr/bin/python3
mkdir -p "$src" "$ss" "$man"
modprobe ext4
mark_log
echo "    $N snapshots, seed $SEED"

# Kernel lines a credit shortage or a filesystem error would leave.
bad_lines() {
	new_log | grep -iE 'jbd2|credit|EXT4-fs (error|warning)|error|warning|broken|damaged|run fsck|run e2fsck|abort|remount' || true
}

meminfo() {
	echo "    memory ($1): $(grep -E '^(MemAvailable|Slab|SReclaimable|SUnreclaim):' /proc/meminfo | awk '{printf "%s %s kB  ", $1, $2}')"
}

# The Python half of the test, in one file: a process start costs seconds
# under TCG, so each step runs one. See the functions for what they do.
cat >/tmp/many.py <<'PY'
import importlib.machinery, importlib.util, json, os, random, subprocess, sys, time

loader = importlib.machinery.SourceFileLoader(
    "manifest", os.path.join(os.environ["TOOLS"], "manifest"))
spec = importlib.util.spec_from_loader("manifest", loader)
manifest = importlib.util.module_from_spec(spec)
loader.exec_module(manifest)


def snap_list(src):
    r = subprocess.run(["e3snapconfig", "-l", src, "-o", "json"],
                       capture_output=True, text=True)
    if r.returncode or r.stderr:
        sys.exit("e3snapconfig -l %s -o json: exit %d: %s" % (src, r.returncode, r.stderr))
    with open("/tmp/list.json", "w") as f:
        f.write(r.stdout)
    return json.loads(r.stdout)


def num(row):
    return int(row["path"].rsplit("/s", 1)[1])


def cmd_list_all(src, n):
    """All n snapshots listed newest first, distinct ids, the newest active;
    print the blocks each holds."""
    n = int(n)
    rows = snap_list(src)
    nums = [num(r) for r in rows]
    if nums != list(range(n, 0, -1)):
        sys.exit("listed %d snapshots %s..., want s%d..s1 newest first" % (len(rows), nums[:5], n))
    ids = [r["id"] for r in rows]
    if ids != sorted(ids, reverse=True) or len(set(ids)) != n:
        sys.exit("ids are not distinct and decreasing: %s" % ids)
    states = [r["state"] for r in rows]
    if states[0] != "active" or any(s != "ok" for s in states[1:]):
        sys.exit("states (newest first): %s" % states)
    blocks = [r["file_blocks"] for r in reversed(rows)]
    for i in range(0, n, 10):
        print("    file blocks, s%d..s%d: %s" % (i + 1, min(i + 10, n),
              " ".join(str(b) for b in blocks[i:i + 10])))
    print("    in all %d blocks (%d MiB); mean %.0f, max %d (s%d)" % (
        sum(blocks), sum(blocks) * 4 // 1024, sum(blocks) / n, max(blocks),
        blocks.index(max(blocks)) + 1))


def cmd_list_left(src, left):
    """The snapshots listed and not 'deleting' are exactly those not
    deleted yet; the oldest listed is never 'deleting'."""
    rows = snap_list(src)
    live = sorted(num(r) for r in rows if r["state"] != "deleting")
    want = sorted(int(x) for x in left.split())
    if live != want:
        sys.exit("listed (not deleting): %s\nwant: %s" % (live, want))
    if rows and rows[-1]["state"] == "deleting":
        sys.exit("the oldest listed snapshot (%s) is 'deleting': it should be gone" % rows[-1]["path"])
    dele = [r for r in rows if r["state"] == "deleting"]
    print("    %d listed, %d of them deleting (%d blocks), %d blocks in all" % (
        len(rows), len(dele), sum(r["file_blocks"] for r in dele),
        sum(r["file_blocks"] for r in rows)))


def cmd_check(man, *pairs):
    """Each I:ROOT: the tree at ROOT (without .snapshots) is the record of
    instant I."""
    bad = 0
    for pair in pairs:
        t0 = time.monotonic()
        i, root = pair.split(":", 1)
        out = "/tmp/m.ss%s" % i
        if manifest.record(root, out, [".snapshots"]):
            print("    snapshot %s: reading it failed" % i)
            bad += 1
        elif manifest.compare(os.path.join(man, i), out, []):
            print("    snapshot %s: NOT its record" % i)
            bad += 1
        else:
            print("    snapshot %s: identical to its record (%.1f s)" % (i, time.monotonic() - t0))
    sys.exit(1 if bad else 0)


def files(top):
    out = []
    for d, dirs, names in os.walk(top):
        dirs.sort()
        for nm in sorted(names):
            p = os.path.join(d, nm)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return out


def write_new(path, size, rng):
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))


def changes(src, i, rng):
    w = os.path.join(src, "w")
    t = os.path.join(src, "t")
    new = os.path.join(w, "new")
    # Files and a directory that exist only between snapshot i and i+1.
    old = os.path.join(src, "only-%d" % (i - 1))
    if os.path.exists(old):
        os.unlink(old)
    write_new(os.path.join(src, "only-%d" % i), rng.randrange(0, 300 << 10), rng)
    oldd = os.path.join(src, "onlyd-%d" % (i - 1))
    if os.path.isdir(oldd):
        for nm in os.listdir(oldd):
            os.unlink(os.path.join(oldd, nm))
        os.rmdir(oldd)
    if i % 10 == 3:
        d = os.path.join(src, "onlyd-%d" % i)
        os.mkdir(d)
        for k in range(4):
            write_new(os.path.join(d, "f%d" % k), rng.randrange(1, 40 << 10), rng)
    # Overwrites in place, in the populated tree and in w/.
    pool = files(t) + files(w)
    for p in rng.sample(pool, min(3, len(pool))):
        size = os.path.getsize(p)
        if size == 0:
            continue
        off = rng.randrange(size)
        ln = min(rng.randrange(1, 64 << 10), size - off)
        fd = os.open(p, os.O_WRONLY)
        os.pwrite(fd, rng.randbytes(ln), off)
        os.close(fd)
    if i % 10 == 0:
        fd = os.open(os.path.join(w, "big"), os.O_WRONLY)
        os.pwrite(fd, rng.randbytes(256 << 10), rng.randrange(4) << 18)
        os.close(fd)
    # New files; a delete of an earlier one; now and then one of the tree.
    for k in range(2):
        write_new(os.path.join(new, "n%d-%d" % (i, k)), rng.randrange(0, 96 << 10), rng)
    cand = [p for p in files(new) if not os.path.basename(p).startswith("n%d-" % i)]
    if cand:
        os.unlink(rng.choice(cand))
    tfiles = files(t)
    if i % 5 == 0 and len(tfiles) > 20:
        os.unlink(rng.choice(tfiles))
    # Now and then a truncate, a rename, a mode change, a hard link.
    if i % 4 == 1:
        p = rng.choice(files(new))
        os.truncate(p, os.path.getsize(p) // 3)
    if i % 6 == 2:
        p = rng.choice(files(new))
        os.rename(p, p + "-r%d" % i)
    if i % 7 == 5:
        os.chmod(rng.choice(files(t)), 0o600 | rng.randrange(0o100))
    if i % 9 == 4:
        os.link(rng.choice(files(new)), os.path.join(w, "link-%d" % i))


def cmd_takes(src, snaps, man, n, seed):
    """Take n snapshots; record the tree at each instant (man/I) and change
    it after each; print the time of each take."""
    n, seed = int(n), int(seed)
    for i in range(1, n + 1):
        rng = random.Random(seed * 100003 + i)
        if i == n:
            # Files the newest snapshot will hold, for the workload after it.
            os.makedirs(os.path.join(src, "bulk"))
            for nm, mib in (("a", 16), ("b", 8)):
                with open(os.path.join(src, "bulk", nm), "wb") as f:
                    for _ in range(mib):
                        f.write(rng.randbytes(1 << 20))
        t_rec = time.monotonic()
        if manifest.record(src, os.path.join(man, str(i)), [".snapshots"]):
            sys.exit("manifest record %d failed" % i)
        t0 = time.monotonic()
        r = subprocess.run(["e3snapconfig", "-c", os.path.join(snaps, "s%d" % i)],
                           capture_output=True, text=True)
        dt = time.monotonic() - t0
        if r.returncode:
            sys.exit("take %d failed (exit %d): %s%s" % (i, r.returncode, r.stdout, r.stderr))
        t_ch = time.monotonic()
        if i < n:
            changes(src, i, rng)
        print("    take %3d: %.3f s (record %.1f s, changes %.1f s)" % (
            i, dt, t0 - t_rec, time.monotonic() - t_ch), flush=True)


def cmd_order(n, seed):
    """A seeded random order of deletes with the middle, the first and the
    last among the first five."""
    n, seed = int(n), int(seed)
    first, mid, last = 1, (n + 1) // 2, n
    rest = [i for i in range(1, n + 1) if i not in (first, mid, last)]
    random.Random(seed).shuffle(rest)
    print(" ".join(str(i) for i in [mid] + rest[:1] + [first] + rest[1:2] + [last] + rest[2:]))


globals()["cmd_" + sys.argv[1].replace("-", "_")](*sys.argv[2:])
PY
export TOOLS
many() { $py /tmp/many.py "$@"; }

# check_snaps [--fsck] I...: bind and mount snapshots I... at once, each must
# be its record (and fsck-clean with --fsck).
check_snaps() {
	local do_fsck='' i slot=0 pairs=() t0=$SECONDS t1 out
	if [ "$1" = --fsck ]; then do_fsck=1; shift; fi
	for i in "$@"; do
		ss_bind "$snaps/s$i" $slot
		mkdir -p "$ss$slot"
		mount -o ro /dev/ssdev/$slot "$ss$slot"
		pairs+=("$i:$ss$slot")
		slot=$((slot + 1))
	done
	echo "    (bound and mounted in $((SECONDS - t0)) s)"
	if many check "$man" "${pairs[@]}" >/tmp/check.out 2>&1; then
		grep -v '^identical:' /tmp/check.out
	else
		cat /tmp/check.out
		soft_fail "snapshot(s) $* not as recorded (see above)"
	fi
	slot=0
	for i in "$@"; do
		umount "$ss$slot"
		if [ -n "$do_fsck" ]; then
			t1=$SECONDS
			if out=$(fsck.ext3snap -fn /dev/ssdev/$slot 2>&1); then
				echo "    snapshot $i: fsck.ext3snap -fn clean ($((SECONDS - t1)) s)"
			else
				soft_fail "fsck.ext3snap -fn of snapshot $i (/dev/ssdev/$slot) is not clean:
$out"
			fi
		fi
		ss_unbind $slot
		slot=$((slot + 1))
	done
	echo "    ($* checked in $((SECONDS - t0)) s)"
}

# Few inodes: every fsck reads all inode tables, through the chain.
mkfs.ext3 -q -b 4096 -N 4096 "$dev"
mount -t ext3snap -o noatime "$dev" "$src"
empty_kb=$(df_used_kb "$src")
mkdir "$snaps"

step "a modest tree"
mkdir "$src/t"
"$TOOLS/populate" "$src/t" --seed "$SEED" --size-mb 0 >/dev/null
# Every manifest walks and reads the whole tree: leave out the wide
# directory, the biggest files and the biggest sparse ones.
rm -r "$src/t/wide" "$src/t/sizes/"{s3145745,s4247555} "$src/t/sparse/"{past-double-1k,all-hole}
mkdir "$src/w" "$src/w/new"
dd if=/dev/urandom of="$src/w/big" bs=1M count=1 status=none
sync
manifest_rec "$src" --exclude .snapshots -o /tmp/m.0
echo "    $(($(wc -l </tmp/m.0) - 1)) entries, $(du -sk --exclude=.snapshots "$src" | cut -f1) KiB"
meminfo "before any snapshot"

step "take $N snapshots, changing the tree in between"
t0=$SECONDS
many takes "$src" "$snaps" "$man" "$N" "$SEED" >/tmp/takes.out 2>&1 ||
	fail "taking the snapshots failed:
$(tail -n 20 /tmp/takes.out)
$(dmesg | tail -n 30)"
cat /tmp/takes.out
echo "    $N takes with their records and changes: $((SECONDS - t0)) s"
awk '/take/ {s = $3 + 0; sum += s; if (s > max) max = s} END {printf "    take time: mean %.3f s, max %.3f s\n", sum / NR, max}' /tmp/takes.out
meminfo "after $N snapshots"
df -k "$src"
bad=$(bad_lines)
[ -z "$bad" ] || soft_fail "kernel log during the takes:
$bad"
# Neighbours must differ, or the test proves little.
cmp -s "$man/1" "$man/2" && fail "the records of snapshots 1 and 2 are the same"
cmp -s "$man/$((N - 1))" "$man/$N" && fail "the records of snapshots $((N - 1)) and $N are the same"

step "the list: $N snapshots, the newest active; the blocks each holds"
many list-all "$src" "$N" || fail "the list of snapshots is not what was taken"

step "a sample of the snapshots: each exactly its record, fsck-clean"
sample=$(printf '%s\n' 1 2 $((N / 4)) $((N / 2)) $((3 * N / 4)) $((N - 1)) "$N" | sort -nu | awk '$1 >= 1')
mapfile -t sm <<<"$sample"
check_snaps --fsck "${sm[@]:0:4}"
check_snaps --fsck "${sm[@]:4}"

step "fsck.ext3snap -fn of the unmounted origin holding $N snapshots"
umount "$src"
t0=$SECONDS
if out=$(fsck.ext3snap -fn "$dev" 2>&1); then
	echo "    clean ($((SECONDS - t0)) s)"
else
	soft_fail "fsck.ext3snap -fn of the origin with $N snapshots is not clean:
$out"
fi
mount -t ext3snap -o noatime "$dev" "$src"

step "large writes, overwrites, truncates, holes and small files with $N snapshots"
t0=$SECONDS
b=$src/bulk
# Overwrite what the newest snapshot holds: copies.
dd if=/dev/urandom of="$b/a" bs=1M count=16 conv=notrunc status=none
sync
# Truncate it (its blocks move to the newest snapshot), grow it again.
truncate -s 3M "$b/a"
dd if=/dev/urandom of="$b/a" bs=1M seek=8 count=8 conv=notrunc status=none
# Punch holes into the other one, then delete it.
fallocate --punch-hole -o 1M -l 4M "$b/b" || fail "punch hole on $b/b failed"
fallocate --punch-hole -o 9000 -l 100000 "$b/b" || fail "punch hole on $b/b failed"
sync
rm "$b/b"
# A new big file, overwritten, truncated in steps, deleted.
dd if=/dev/urandom of="$src/w/fresh" bs=1M count=40 status=none
dd if=/dev/urandom of="$src/w/fresh" bs=1M count=40 conv=notrunc,fsync status=none
truncate -s 20M "$src/w/fresh"
truncate -s 123457 "$src/w/fresh"
# ext3 (no extents) cannot preallocate; a refusal is expected and harmless.
fallocate -l 16M "$src/w/prealloc" 2>/dev/null || echo "    fallocate (preallocate) refused, as on ext3"
rm -f "$src/w/prealloc" "$src/w/fresh"
# Many small files, then most of them gone.
mkdir "$src/small"
for i in $(seq 1500); do
	printf '%s %0*d\n' "$i" $((i % 3000)) 0 >"$src/small/f$i"
done
sync
find "$src/small" -name 'f*[0-7]' -delete
# The overwritten file, truncated to nothing under the newest snapshot.
truncate -s 0 "$b/a"
sync
echo "    workload: $((SECONDS - t0)) s"
df -k "$src"
bad=$(bad_lines)
[ -z "$bad" ] || soft_fail "kernel log during the workload:
$bad"
log_clean "the workload"
check_snaps --fsck 1 "$N"

step "delete them in a random order (seed $SEED), checking the rest"
order=$(many order "$N" "$SEED")
echo "    order: $order"
declare -A alive
for i in $(seq 1 "$N"); do alive[$i]=1; done
k=0
t0=$SECONDS
dtimes=
for i in $order; do
	td=$(date +%s%N)
	e3snapconfig -d "$snaps/s$i" >/tmp/del.out 2>&1 ||
		fail "e3snapconfig -d s$i (delete number $((k + 1))) failed: $(cat /tmp/del.out)"
	dtimes+=" s$i:$((($(date +%s%N) - td) / 1000000))ms"
	unset "alive[$i]"
	k=$((k + 1))
	[ $((k % 10)) = 0 ] || [ $k = 3 ] || [ $k = 5 ] || [ $k = "$N" ] || continue
	left=$(printf '%s\n' "${!alive[@]}" | sort -n | grep . || true)
	nleft=$(printf '%s' "$left" | grep -c . || true)
	echo "    after $k deletes ($((SECONDS - t0)) s since the first), $nleft left; delete times:$dtimes"
	dtimes=
	many list-left "$src" "$left" || soft_fail "after $k deletes the list does not match what is left"
	[ "$nleft" -gt 0 ] || continue
	lo=$(printf '%s\n' "$left" | head -n1)
	hi=$(printf '%s\n' "$left" | tail -n1)
	md=$(printf '%s\n' "$left" | sed -n "$(((nleft + 1) / 2))p")
	# shellcheck disable=SC2046
	check_snaps $(printf '%s\n' "$lo" "$md" "$hi" | sort -nu)
done
bad=$(bad_lines)
[ -z "$bad" ] || soft_fail "kernel log during the deletes:
$bad"

step "all deleted: nothing left, the space back, plain ext3"
[ -z "$(ls -A "$snaps")" ] || fail "snapshot files left: $(ls -A "$snaps" | head)"
e3snapconfig -l "$src" -o json >/tmp/list.json || fail "e3snapconfig -l -o json failed"
[ "$(tr -d ' \n' </tmp/list.json)" = "[]" ] || fail "e3snapconfig -l -o json still lists: $(cat /tmp/list.json)"
text=$(e3snapconfig -l "$src") || fail "e3snapconfig -l failed"
[ "$(printf '%s\n' "$text" | grep -vc '^PATH')" = 0 ] || fail "e3snapconfig -l still lists: $text"
meminfo "after deleting all"
find "$src" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
used=$(df_used_kb "$src")
echo "    used: $used KiB, empty filesystem: $empty_kb KiB"
[ "$used" -le $((empty_kb + empty_kb / 100 + 64)) ] ||
	fail "after deleting everything $used KiB are used, the empty filesystem used $empty_kb KiB"
umount "$src"
has_snapshot_flag "$dev" && fail "has_snapshot still set after deleting every snapshot"
e2fsck -fn "$dev" >/tmp/fsck.out 2>&1 || fail "plain e2fsck -fn not clean:
$(cat /tmp/fsck.out)"
log_clean snap-many
test_done snap-many
