#!/usr/bin/env bash
# The project's own source checks (run by `make lint` and early in `make test`); needs only bash,
# grep and awk, and takes well under a second. Usage: scripts/lint.sh [ROOT] (default: this tree;
# tests/lint/ runs it on made-up trees). Prints one "path:line: rule: text" per finding and exits 1
# when there is any.
#
# Rules:
#   ticket-marker  a comment names an issue ("(issue 12)", "issue #12"): comments say why, and the
#                  tracker's numbers mean nothing to a reader of the code.
#   todo           TODO, FIXME or XXX as a word: unfinished work goes to the tracker, not the tree.
#   banned-call    in src/, plugins/ and scaffold/ (code users build), a call of a function with a
#                  safe replacement:
#                    sprintf vsprintf strcpy strcat strncpy strncat gets  (unbounded or unterminated
#                        writes; use snprintf or struct buf)
#                    strtok  (hidden static state, not thread-safe; use strtok_r or a slice walk)
#                    atoi atol atoll atof  (no error report; use strtol/strtod with an end check)
#                    tmpnam tempnam mktemp  (a name another process can take first; use mkstemp)
#                    asctime ctime gmtime localtime  (shared static result; use the _r forms)
#                    rand srand  (shared state and predictable; use getrandom)
#                    system popen  (runs a shell; use core's spawn)
#                    alloca  (stack size chosen by input)
#   private-include  src/A/x.c includes a private header of another module B: "B/..._int.h",
#                  "B/..._impl.h" or "B/internal/...". A module's private headers are for its own
#                  files; other modules use its public header (B/B.h). The one exception is a
#                  friend that CMakeLists.txt names (set(MW_FRIENDS_A B/x_impl.h)), the same list
#                  the build's layering check (scripts/check-layers.cmake) reads.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || { echo "lint: no such tree: $root" >&2; exit 2; }

# Only the tree's own files: build output, node_modules and fetched tools are not ours.
files() {
  local d
  for d in "$@"; do
    [ -d "$d" ] || continue
    find "$d" \( -name node_modules -o -name build -o -name __pycache__ -o -name corpus \) -prune -o \
      -type f \( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.cmake' \) \
      -print
  done | LC_ALL=C sort
}

found=0
report() { # rule, then grep -n output lines "path:line:text" on stdin
  local rule=$1 line
  while IFS= read -r line; do
    printf '%s: %s: %s\n' "${line%%:*}:$(cut -d: -f2 <<<"$line")" "$rule" "$(cut -d: -f3- <<<"$line" | sed 's/^[[:space:]]*//')"
    found=1
  done
}

mapfile -t code < <(files src include plugins scaffold tests fuzz scripts bench deploy)
mapfile -t shipped < <(files src plugins scaffold | grep -E '\.[ch]$')
mapfile -t srcc < <(files src | grep -E '\.[ch]$')
# This script and its tests quote the markers they look for.
scan=()
for f in "${code[@]}"; do
  case ${f#./} in scripts/lint.sh | tests/lint/*) ;; *) scan+=("$f") ;; esac
done

if [ "${#scan[@]}" -gt 0 ]; then
  report ticket-marker < <(grep -nHE '[Ii]ssues?[[:space:]]+#?[0-9]+|\([Ii]ssue[[:space:]]*#?[0-9]+\)|[Ii]ssue[[:space:]]*#[0-9]+' -- "${scan[@]}")
  report todo < <(grep -nHwE 'TODO|FIXME|XXX' -- "${scan[@]}")
fi

banned='sprintf|vsprintf|strcpy|strcat|strncpy|strncat|gets|strtok|atoi|atol|atoll|atof|tmpnam|tempnam|mktemp|asctime|ctime|gmtime|localtime|rand|srand|system|popen|alloca'
if [ "${#shipped[@]}" -gt 0 ]; then
  # A call, not a member (s.system(), p->rand) nor a longer name (snprintf, strtok_r, gmtime_r).
  report banned-call < <(grep -nHE "(^|[^[:alnum:]_.>])($banned)[[:space:]]*\\(" -- "${shipped[@]}")
fi

if [ "${#srcc[@]}" -gt 0 ]; then
  # "module:header" pairs of the declared friends, e.g. " codec:model/model_impl.h ".
  friends=" "
  if [ -f CMakeLists.txt ]; then
    while read -r mod hdrs; do
      for h in $hdrs; do friends+="$mod:$h "; done
    done < <(sed -nE 's/^[[:space:]]*set\(MW_FRIENDS_([a-z]+)[[:space:]]+([^)]*)\).*/\1 \2/p' CMakeLists.txt)
  fi
  report private-include < <(
    for f in "${srcc[@]}"; do
      rel=${f#./}; rel=${rel#src/}
      mod=${rel%%/*}
      [ "$mod" != "$rel" ] || continue # a file directly in src/ belongs to no module
      grep -nHE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' -- "$f" |
        awk -v mod="$mod" -v dir="$(dirname "$rel")" -v friends="$friends" -F: '{
          line = $0; inc = line; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
          # A relative include ("../B/x_int.h") is resolved against the file'\''s folder.
          path = inc
          if (path ~ /^\.\.?\//) {
            n = split(dir, parts, "/"); m = split(path, segs, "/"); k = n
            for (i = 1; i <= m; i++) {
              if (segs[i] == "..") k--; else if (segs[i] != ".") { k++; parts[k] = segs[i] }
            }
            path = ""
            for (i = 1; i <= k; i++) path = path (i > 1 ? "/" : "") parts[i]
          }
          split(path, p, "/"); other = p[1]
          if (other == mod || index(path, "/") == 0) next
          if (index(friends, " " mod ":" path " ") > 0) next
          if (path ~ /_(int|impl)\.h$/ || path ~ /\/internal\//) print line
        }'
    done)
fi

if [ "$found" -ne 0 ]; then
  echo "lint: FAILED (rules and their reasons: the head of scripts/lint.sh)" >&2
  exit 1
fi
echo "lint: ${#code[@]} files clean"
