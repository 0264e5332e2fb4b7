#!/usr/bin/python3
# takelat.py: time one snapshot take, or one bare freeze+thaw, from inside
# a single process, so that both figures carry the same (and no) process
# start-up cost; under TCG an exec alone costs milliseconds.
#
#   takelat.py take DIR NAME   -> "wall_ns frozen_ns"  (EXT3SNAP_IOC_TAKE)
#   takelat.py freeze MNT      -> "wall_ns"            (FIFREEZE + FITHAW)
#
# A refused take prints the errno name on stderr and exits 1 (the driver
# tells EBUSY, "one snapshot at a time", from real failures).
import errno, fcntl, os, struct, sys, time

NAME_LEN = 256
TAKE_FMT = "=IIQ%ds" % NAME_LEN	# struct ext3snap_ioc_take


def iowr(typ, nr, size):
	return (3 << 30) | (size << 16) | (ord(typ) << 8) | nr


EXT3SNAP_IOC_TAKE = iowr('3', 0x01, struct.calcsize(TAKE_FMT))
FIFREEZE = iowr('X', 119, 4)
FITHAW = iowr('X', 120, 4)


def main():
	if len(sys.argv) == 4 and sys.argv[1] == "take":
		fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
		arg = bytearray(struct.pack(TAKE_FMT, 0, 0, 0, sys.argv[3].encode()))
		t0 = time.perf_counter_ns()
		try:
			fcntl.ioctl(fd, EXT3SNAP_IOC_TAKE, arg, True)
		except OSError as e:
			print("take refused: %s (%s)" % (errno.errorcode.get(e.errno, e.errno),
							 e.strerror), file=sys.stderr)
			return 1
		t1 = time.perf_counter_ns()
		_, _, frozen, _ = struct.unpack(TAKE_FMT, arg)
		print(t1 - t0, frozen)
	elif len(sys.argv) == 3 and sys.argv[1] == "freeze":
		fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
		t0 = time.perf_counter_ns()
		fcntl.ioctl(fd, FIFREEZE, 0)
		fcntl.ioctl(fd, FITHAW, 0)
		print(time.perf_counter_ns() - t0)
	else:
		print(__doc__ or "usage: takelat.py take DIR NAME | freeze MNT", file=sys.stderr)
		return 2
	return 0


sys.exit(main())
