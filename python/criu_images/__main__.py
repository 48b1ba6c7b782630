"""``python -m criu_images ...`` and the ``criu-images`` script installed by pip
run the same command line tool as the Rust binary."""

import os
import signal
import sys

from ._criu_images import cli_main


def _end_interrupted() -> None:
    """Ends as the Rust binary does at Ctrl-C: one line, then SIGINT with its
    default action (status 130 in the shell, and a shell loop stops too)."""
    sys.stderr.write("criu-images: interrupted\n")
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    os._exit(130)  # only if SIGINT could not end the process


def main() -> None:
    # Python's handler would turn Ctrl-C into a KeyboardInterrupt traceback
    # once the tool returns; the tool handles SIGINT itself (it installs its
    # handler where work can be cancelled), as in the Rust binary. An ignored
    # SIGINT (a background job) stays ignored.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        code = cli_main(["criu-images", *sys.argv[1:]])
    except KeyboardInterrupt:
        _end_interrupted()
    sys.exit(code)


if __name__ == "__main__":
    main()
