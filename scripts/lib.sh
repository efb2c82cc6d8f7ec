# Sourced by the scripts in this folder, after 'set -euo pipefail'.
#
# fail_loudly: under 'set -e' a failing command ends the script without a word;
# this ERR trap names the script, the line and the command first.
# become_root "$@": re-runs the calling script through sudo when it is not run
# as root (sudo may ask for the password), and says what to do without sudo.

fail_loudly() {
  set -E  # the trap also fires inside functions and subshells
  trap '_status=$?; printf "%s: line %s: %s failed (exit status %s)\n" \
    "${0##*/}" "$LINENO" "$BASH_COMMAND" "$_status" >&2; exit "$_status"' ERR
}

become_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  if command -v sudo >/dev/null 2>&1; then
    echo "${0##*/}: not root; running it again through sudo" >&2
    exec sudo -- env ${BUILD_DIR:+BUILD_DIR="$BUILD_DIR"} "$0" "$@"
  fi
  echo "${0##*/}: needs root, and sudo is not installed: run it in a root shell (su -)" >&2
  exit 2
}
