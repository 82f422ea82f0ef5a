#!/usr/bin/env python3
"""Checks each installed tool's --help, --version and man page.

Usage: check_tool_docs.py VERSION TOOL MANPAGE [TOOL MANPAGE ...]

For every tool: `--help` exits 0 and prints a usage on stdout that names
every option the man page documents; `--version` exits 0 and prints
"NAME VERSION"; a bad option exits 2; the man page renders with groff
(when installed) without a single warning and names the tool.
"""
import os
import re
import shutil
import subprocess
import sys


def check(version: str, tool: str, page: str) -> list[str]:
    name = os.path.basename(tool)
    problems = []
    run = subprocess.run([tool, '--help'], capture_output=True, text=True)
    if run.returncode != 0 or 'usage:' not in run.stdout:
        problems.append(f'{name} --help: status {run.returncode}, stdout {run.stdout[:80]!r}')
    run_v = subprocess.run([tool, '--version'], capture_output=True, text=True)
    if run_v.returncode != 0 or run_v.stdout.strip() != f'{name} {version}':
        problems.append(f'{name} --version: status {run_v.returncode}, printed {run_v.stdout.strip()!r}')
    bad = subprocess.run([tool, '--no-such-option'], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if bad.returncode != 2:
        problems.append(f'{name} --no-such-option: status {bad.returncode}, wanted 2')
    text = open(page).read()
    if f'.TH {name.upper()} 1' not in text or version not in text:
        problems.append(f'{page}: no .TH line for {name} with version {version}')
    # Every long option of the man page appears in --help.
    for option in sorted(set(re.findall(r'\\-\\-([a-z][a-z\\-]*)', text))):
        option = option.replace('\\-', '-')
        if f'--{option}' not in run.stdout:
            problems.append(f'{name}: --{option} is in the man page but not in --help')
    if shutil.which('groff'):
        render = subprocess.run(['groff', '-man', '-ww', '-z', '-Tutf8', page], capture_output=True, text=True)
        if render.returncode != 0 or render.stderr.strip():
            problems.append(f'{page}: groff warnings: {render.stderr.strip()}')
    return problems


def main() -> int:
    version, rest = sys.argv[1], sys.argv[2:]
    problems = []
    for tool, page in zip(rest[0::2], rest[1::2]):
        problems += check(version, tool, page)
    for p in problems:
        print(p)
    print(f'{len(rest) // 2} tools checked, {len(problems)} problem(s)')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
