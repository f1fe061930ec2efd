#!/usr/bin/env bash
# What the test suite needs outside the venv: PostgreSQL server binaries, Java 17+ and Maven
# (for Apache Kafka, whose jars come from Maven Central), chromium and a Chinese font. `make test` runs this before pytest.
# Idempotent: installs only what is missing, and fetches the Kafka jars only once.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"

say() { printf 'ensure-system-deps: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

apt_updated=""
apt_install() {
    # Debian/Ubuntu only; elsewhere the caller's message tells the developer what to install
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then return 1; fi
    if [ -z "$apt_updated" ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    say "apt-get install $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

have_pg() {
    compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null \
        || { command -v pg_ctl >/dev/null && command -v initdb >/dev/null; }
}

if ! have_pg; then
    apt_install postgresql || die "PostgreSQL server binaries (initdb, pg_ctl) are missing \
and could not be installed; install the Debian package postgresql (apt-get install postgresql)"
    # The package creates and may start a 'main' cluster on 5432. The tests run their own
    # server (tests/support/postgres.py), so stop it rather than leave a stray daemon.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | while read -r ver name _port status _rest; do
            if [ "$status" = online ]; then $SUDO pg_ctlcluster "$ver" "$name" stop || true; fi
        done
    fi
    have_pg || die "PostgreSQL was installed but initdb/pg_ctl are still not found"
fi

java_major() {
    # `java -version` prints e.g. 'openjdk version "17.0.15" ...' or '"1.8.0_402"' for Java 8
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -n1 \
        | { read -r major minor; if [ "$major" = 1 ]; then echo "$minor"; else echo "$major"; fi; }
}

if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
    apt_install default-jre-headless || true
fi
command -v java >/dev/null 2>&1 \
    || die "java not found: Apache Kafka for the tests needs Java 17+ (apt-get install openjdk-17-jre-headless)"
[ "$(java_major)" -ge 17 ] \
    || die "Java $(java_major) found; Apache Kafka 4 for the tests needs Java 17+"

if ! command -v mvn >/dev/null 2>&1; then
    apt_install maven || true
fi
command -v mvn >/dev/null 2>&1 \
    || die "mvn not found: the Apache Kafka jars for the tests come from Maven Central (apt-get install maven)"

# The monitoring page's test drives Debian's chromium through Playwright (whose own browser
# download cannot work offline); a Chinese font makes its screenshots and the circular's
# PNG chart legible; cairosvg, which draws that PNG, needs the cairo library.
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium || die "/usr/bin/chromium not found and could not be installed; \
the monitoring page's test needs it (apt-get install chromium)"
fi
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    apt_install fonts-wqy-microhei || say "WARNING: no Chinese font (apt-get install fonts-wqy-microhei)"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcairo\.so\.2'; then
    apt_install libcairo2 || die "the cairo library is missing (apt-get install libcairo2)"
fi

[ -x "$PYTHON" ] || die "$PYTHON not found: create the venv first (make test does), or set PYTHON"
# the same code path as the kafka_bootstrap fixture, so a later test run finds the jars cached
libs="$("$PYTHON" -m tests.support.kafka --fetch)" || die "fetching the Apache Kafka jars failed (above)"
say "ok: PostgreSQL server binaries, Java $(java_major), Maven, chromium; Kafka jars in $libs"
