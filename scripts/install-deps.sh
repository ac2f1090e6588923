#!/bin/sh
# Installs everything spfgate needs to build and to run its whole test suite, from Debian 12 packages only.
# Idempotent; safe to run again. Needs root (or sudo).
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# Postfix would otherwise ask which "mailer type" to configure and start a system instance; the tests run
# their own private instance and never touch the system one.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections

BUILD="build-essential cmake pkg-config
  libboost1.81-dev libboost-program-options1.81-dev
  libunbound-dev dns-root-data libspdlog-dev libfmt-dev libsystemd-dev libpcre2-dev libjemalloc-dev"
TEST="python3 libgtest-dev libgmock-dev libyaml-cpp-dev libbenchmark-dev
  nsd unbound ldnsutils dnsutils postfix swaks libio-socket-inet6-perl postfix-policyd-spf-python
  clang libclang-rt-14-dev llvm iproute2 util-linux procps psmisc man-db groff-base systemd"

missing=
for p in $BUILD $TEST; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  # policy-rc.d 101: packages must not start their system services (unbound, nsd, postfix) here;
  # the tests start private instances of their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
