"""``python -m convstore``: the command-line interface (see :mod:`convstore.cli`)."""

from convstore.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
