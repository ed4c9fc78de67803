"""`python -m shop_deploy --bin-dir target/debug [--self-test]`: see the package's docstring."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __doc__ as DESCRIPTION
from .common import REPO
from .selftest import self_test
from .validate import validate


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="shop_deploy",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bin-dir", type=Path, required=True, help="where the shop-* binaries are")
    parser.add_argument("--node-dir", type=Path, default=REPO / "scripts/deploy/node-checks")
    parser.add_argument("--root", type=Path, default=REPO, help="the repository to validate")
    parser.add_argument(
        "--self-test", action="store_true", help="check that known breakages are caught"
    )
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.bin_dir, args.node_dir)
    report = validate(args.root.resolve(), args.bin_dir, args.node_dir)
    if report.failures:
        print(f"deployment validation failed: {', '.join(report.failures)}")
        return 1
    print("deployment files are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
