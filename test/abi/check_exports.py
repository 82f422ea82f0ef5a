#!/usr/bin/env python3
"""The shared library exports the public API and nothing else.

Usage: check_exports.py LIBRARY ABI_LIST

Lists the dynamic symbols LIBRARY defines (nm -D --defined-only, demangled)
and fails when
  - any of them is internal: outside namespace h2wire, inside a `detail`
    namespace, a standard-library instantiation, or a private helper of a
    public class (anything not in ABI_LIST falls here too);
  - the set differs from ABI_LIST, the reviewed list of the ABI
    (lib/h2wire.abi). A symbol that disappears breaks programs linked against
    an earlier build: that needs a new SONAME (see lib/meson.build), and the
    list is updated in the same change. A new symbol is added to the list
    once it is meant to be public.
"""
import re
import subprocess
import sys


def exported(library: str) -> set[str]:
    out = subprocess.run(['nm', '-D', '--defined-only', '-C', library],
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split(' ', 2)
        if len(parts) == 3:
            names.add(parts[2])
    return names


def internal(name: str) -> str | None:
    """Why `name` must not be exported, or None."""
    if not name.startswith('h2wire::'):
        return 'outside namespace h2wire'
    if re.search(r'(^|::)detail::', name.split('(')[0]):
        return 'in a detail namespace'
    if re.search(r'::(Impl|Index|Status)\b', name.split('(')[0]):
        return 'an implementation type'
    return None


def main() -> int:
    library, abi_list = sys.argv[1], sys.argv[2]
    have = exported(library)
    want = {line.strip() for line in open(abi_list) if line.strip() and not line.startswith('#')}
    problems = []
    for name in sorted(have):
        why = internal(name)
        if why:
            problems.append(f'internal symbol exported ({why}): {name}')
    for name in sorted(have - want):
        if not internal(name):
            problems.append(f'exported but not in {abi_list}: {name}')
    for name in sorted(want - have):
        problems.append(f'in {abi_list} but no longer exported (ABI break: new SONAME needed): {name}')
    print(f'{len(have)} exported symbols, {len(want)} in the ABI list')
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
