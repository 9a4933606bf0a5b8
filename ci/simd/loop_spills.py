"""Vector-register traffic with the stack inside the innermost loops of each
function of an ``objdump -d --no-show-raw-insn`` listing (x86-64).

    objdump -d --no-show-raw-insn _simd_kernels.o > k.s
    python ci/simd/loop_spills.py k.s [--max-stores N]

Innermost loops are the address ranges of backward jumps that contain no other
such range. For each function it prints the vector instructions in them, the
ymm/zmm operands read from the stack (reloads: spilled constants or values)
and the ymm/zmm registers stored to the stack (spills). With --max-stores,
exits 1 when a function stores more than N times.
"""

import argparse
import re
import sys


def functions(path):
    funcs, cur = {}, None
    with open(path) as fh:
        for line in fh:
            m = re.match(r"^([0-9a-f]+) <(.+)>:", line)
            if m:
                cur = m.group(2)
                funcs[cur] = []
                continue
            m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
            if m and cur:
                funcs[cur].append((int(m.group(1), 16), m.group(2)))
    return funcs


def inner_loops(ins):
    loops = []
    for addr, text in ins:
        m = re.match(r"j\w+\s+([0-9a-f]+) <", text)
        if m and int(m.group(1), 16) <= addr:
            loops.append((int(m.group(1), 16), addr))
    return [lp for lp in loops
            if not any(o != lp and lp[0] <= o[0] and o[1] <= lp[1] for o in loops)]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("listing")
    ap.add_argument("--max-stores", type=int, default=None)
    args = ap.parse_args(argv)
    worst = 0
    print(f"{'function':32s} {'vector':>7s} {'reloads':>8s} {'stores':>7s}")
    for name, ins in functions(args.listing).items():
        vec = reload = store = 0
        for lo, hi in inner_loops(ins):
            for addr, text in ins:
                if not lo <= addr <= hi:
                    continue
                vec += bool(re.search(r"[yz]mm", text))
                if re.search(r"%[yz]mm\d+,\s*-?0x[0-9a-f]*\((%rsp|%rbp)", text):
                    store += 1
                elif re.search(r"[yz]mm", text) and re.search(r"\((%rsp|%rbp)", text):
                    reload += 1
        if vec:
            print(f"{name:32s} {vec:7d} {reload:8d} {store:7d}")
        worst = max(worst, store)
    if args.max_stores is not None and worst > args.max_stores:
        print(f"a function stores vector registers {worst} times in its inner loops")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
