"""Run one benchmark by name (`python -m bench nearby`), or every benchmark with no name."""

import importlib
import sys

# name -> module with a `main(argv) -> exit status`; later benchmarks add a line here.
BENCHMARKS = {
    "nearby": "bench.nearby",
    "notifications_sigkill": "bench.notifications_sigkill",
    "flash_sale": "bench.flash_sale",
}


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [{'|'.join(BENCHMARKS)}] [options]")
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; choose one of: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = [argv[0]] if argv else list(BENCHMARKS)
    status = 0
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        status = module.main(argv[1:] if argv else []) or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
