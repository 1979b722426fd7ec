# Shared locations for the launch scripts (sourced, not run).
EPALM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EPALM_HOME=${EPALM_HOME:-$HOME/.cache/epalm}
EPALM_VENV=${EPALM_VENV:-$EPALM_HOME/venv}
EPALM_BUILD=${EPALM_BUILD:-$EPALM_ROOT/build}
export EPALM_ROOT EPALM_HOME EPALM_VENV EPALM_BUILD

# The directory holding TorchConfig.cmake's prefix: the user's LibTorch if
# EPALM_LIBTORCH is set, else the torch package inside our environment.
epalm_torch_cmake_dir() {
  if [ -n "${EPALM_LIBTORCH:-}" ]; then
    printf '%s\n' "$EPALM_LIBTORCH"
  else
    local sp
    sp=$("$EPALM_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    printf '%s\n' "$sp/torch"
  fi
}
