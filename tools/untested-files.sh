#!/usr/bin/env bash
# Lists the source files of controller/ forks/ http/ util/ app/ that have logic (a .cpp) but no
# test file of their own name (tests/**/<name>_test.cpp), with their size in lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for f in controller/*.cpp forks/*.cpp forks/eth/*.cpp http/*.cpp util/*.cpp app/*.cpp; do
    name=$(basename "$f" .cpp)
    if ! compgen -G "tests/*/${name}_test.cpp" >/dev/null; then
        printf '%5d %s\n' "$(wc -l <"$f")" "$f"
    fi
done | sort -k2
