"""Compare outputs of ci/simd/driver.c: every value equal to ``--rtol`` of the
largest value of its array (named before the bracket); reports how many are
bit-identical.

    python ci/simd/compare.py REF.txt OTHER.txt [--rtol 1e-12]
"""

import argparse
import sys
from collections import defaultdict


def _read(path):
    values, header = {}, ""
    with open(path) as fh:
        for line in fh:
            key, _, value = line.strip().partition(" ")
            if key == "target":
                header = line.strip()
                continue
            values[key] = float.fromhex(value)
    return header, values


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("other")
    ap.add_argument("--rtol", type=float, default=1e-12)
    args = ap.parse_args(argv)
    (h1, a), (h2, b) = _read(args.ref), _read(args.other)
    if set(a) != set(b):
        print(f"different outputs: {sorted(set(a) ^ set(b))[:5]}")
        return 1
    scale = defaultdict(float)
    for k, v in a.items():
        name = k.split("[")[0]
        scale[name] = max(scale[name], abs(v))
    same = sum(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)
    bad = [k for k in a if not abs(a[k] - b[k]) <= args.rtol * max(scale[k.split("[")[0]], 1e-300)]
    print(f"{h1}\n  vs {h2}\n  {len(a)} values, {same} bit-identical, "
          f"{len(bad)} beyond rtol {args.rtol}" + (f": {bad[:8]}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
