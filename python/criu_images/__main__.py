"""``python -m criu_images ...`` and the ``criu-images`` script installed by pip
run the same command line tool as the Rust binary."""

import sys

from ._criu_images import cli_main


def main() -> None:
    sys.exit(cli_main(["criu-images", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
