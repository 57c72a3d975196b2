#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo use (real peers: openssl, curl, nginx,
# a JDK's keytool and javac, Lua 5.1 and 5.4 for the Argo CD health check of docs/gitops.md). Idempotent;
# skips apt entirely when everything is present.
. "$(dirname "$0")/lib.sh"
want=()
command -v openssl >/dev/null || want+=(openssl)
command -v curl >/dev/null || want+=(curl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || want+=(nginx-light)
command -v keytool >/dev/null || want+=(default-jre-headless)
command -v javac >/dev/null || want+=(default-jdk-headless) # the Java truststore e2e compiles its server
command -v lua5.1 >/dev/null || want+=(lua5.1)
command -v lua5.4 >/dev/null || want+=(lua5.4)
[ ${#want[@]} -eq 0 ] && exit 0
[ "$(id -u)" -eq 0 ] || die "missing ${want[*]}; install them (apt-get install ${want[*]}) or run as root"
log "installing ${want[*]} from Debian"
step "apt-get update" apt-get update -qq
step "apt-get install ${want[*]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}"
