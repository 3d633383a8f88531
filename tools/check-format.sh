#!/usr/bin/env bash
# Fails, naming the files, when a tracked C++ file is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bad=()
while IFS= read -r f; do
    [ -f "$f" ] || continue
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find . -name '*.[ch]pp' -not -path './build*')
if [ ${#bad[@]} -gt 0 ]; then
    printf 'not formatted per .clang-format (run clang-format -i): %s\n' "${bad[@]}"
    exit 1
fi
echo "formatting: ok"
