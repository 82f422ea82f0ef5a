#!/usr/bin/env python3
"""Runs Doxygen on the public headers and fails on any warning.

Usage: check_doxygen.py DOXYGEN DOXYFILE

Doxygen writes its warnings to WARN_LOGFILE (see Doxyfile.in); with
WARN_IF_UNDOCUMENTED every public declaration without a comment is one.
The test prints them all and exits 1 when there is any.
"""
import pathlib
import re
import subprocess
import sys


def main() -> int:
    doxygen, doxyfile = sys.argv[1], pathlib.Path(sys.argv[2])
    text = doxyfile.read_text()
    log = pathlib.Path(re.search(r'^WARN_LOGFILE\s*=\s*(.+)$', text, re.M).group(1).strip())
    log.unlink(missing_ok=True)
    run = subprocess.run([doxygen, str(doxyfile)], capture_output=True, text=True)
    warnings = [line for line in (log.read_text().splitlines() if log.exists() else []) if line.strip()]
    warnings += [line for line in run.stderr.splitlines() if line.strip()]
    if run.returncode != 0:
        print(f'doxygen exited with {run.returncode}')
        print(run.stdout)
    for line in warnings:
        print(line)
    print(f'{len(warnings)} Doxygen warning(s)')
    return 1 if run.returncode != 0 or warnings else 0


if __name__ == '__main__':
    sys.exit(main())
