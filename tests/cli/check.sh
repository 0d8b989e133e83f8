# Shared by the CLI test scripts (sourced): a scratch directory removed on exit, check NAME
# COMMAND... counting passes and failures, and finish printing "N passed, N failed".
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAILED: $name"; failures=$((failures + 1)); fi
}

finish() {  # finish LABEL
  echo "$1: $passes passed, $failures failed"
  exit $((failures > 0))
}
