"""Writes and reads sectors that name themselves, for ProcessKillIT (python3 with libnbd's nbd module).

write URI BASE LENGTH PLAN CYCLE DEPTH STATUS
    Writes 64 KiB blocks of [BASE, BASE + LENGTH) without FUA and without flush, DEPTH at a time,
    until the server goes away. Write number k (its serial, from 0) goes to block PLAN[k % len(PLAN)]
    (PLAN: a file of block indices, one per line). Every 512-byte sector of it is 16 copies of
    the record <"PCKILLv1", absolute sector number, CYCLE, serial> (little-endian 64-bit numbers),
    so every sector says which write put it there. STATUS gets "writing" once the first write has
    been acknowledged, and "submitted S acknowledged A" when the writer stops.
read URI BASE LENGTH OUT
    Copies [BASE, BASE + LENGTH) of the export into the file OUT.
"""
import struct
import sys

import nbd

SECTOR = 512
BLOCK = 64 * 1024
MAGIC = b"PCKILLv1"


def block_bytes(first_sector, cycle, serial):
    return b"".join(struct.pack("<8sQQQ", MAGIC, first_sector + i, cycle, serial) * (SECTOR // 32)
                    for i in range(BLOCK // SECTOR))


def write(uri, base, length, plan_file, cycle, depth, status_file):
    with open(plan_file) as f:
        plan = [int(line) for line in f if line.strip()]
    blocks = length // BLOCK
    if not plan or any(b < 0 or b >= blocks for b in plan):
        sys.exit("plan names blocks outside the range of %d blocks" % blocks)
    h = nbd.NBD()
    h.connect_uri(uri)
    status = open(status_file, "w")
    pending = {}  # cookie -> buffer (kept alive until the write completes)
    submitted = acknowledged = 0
    try:
        while True:
            while len(pending) < depth:
                offset = base + plan[submitted % len(plan)] * BLOCK
                buf = nbd.Buffer.from_bytearray(bytearray(block_bytes(offset // SECTOR, cycle, submitted)))
                pending[h.aio_pwrite(buf, offset)] = buf
                submitted += 1
            h.poll(-1)
            for cookie in [c for c in pending if h.aio_command_completed(c)]:
                del pending[cookie]
                acknowledged += 1
                if acknowledged == 1:
                    status.write("writing\n")
                    status.flush()
    except nbd.Error:
        pass  # the server was killed: the end this writer waits for
    status.write("submitted %d acknowledged %d\n" % (submitted, acknowledged))
    status.close()


def read(uri, base, length, out_file):
    h = nbd.NBD()
    h.connect_uri(uri)
    with open(out_file, "wb") as out:
        for at in range(0, length, 1 << 20):
            out.write(h.pread(min(1 << 20, length - at), base + at))
    h.shutdown()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 8 and args[0] == "write":
        write(args[1], int(args[2]), int(args[3]), args[4], int(args[5]), int(args[6]), args[7])
    elif len(args) == 5 and args[0] == "read":
        read(args[1], int(args[2]), int(args[3]), args[4])
    else:
        sys.exit(__doc__)
