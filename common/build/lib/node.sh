# shellcheck shell=bash
# Helios hook library, part node: what a step that runs Node.js or npm sets up first.
#
# Mounted at /helios/hooks/lib/node.sh for the steps whose row in pipeline/order.py names it.

# node_trusts_system_cas [BUNDLE...]: make Node.js (npm, node-gyp) trust the certificate
# authorities of the system's store too, not only the list compiled into it. A Dagger engine installs its custom
# certificate authorities (a proxy's that inspects TLS, an internal registry's) into that store
# for every exec, and curl, git and apt see them there; Node reads a store only through
# NODE_EXTRA_CA_CERTS, so without this npm cannot reach its registry through such a proxy. A value
# already set is kept; a system without a store changes nothing. BUNDLE... are the stores to look
# for, first found wins; the default is where each family keeps it (Debian, Ubuntu and Alpine; the
# RHEL family).
node_trusts_system_cas() {
  local bundle
  [[ -z ${NODE_EXTRA_CA_CERTS:-} ]] || return 0
  (($# > 0)) || set -- /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt
  for bundle in "$@"; do
    if [[ -s $bundle ]]; then
      export NODE_EXTRA_CA_CERTS=$bundle
      log "Node.js trusts the system's certificate authorities too ($bundle)"
      return 0
    fi
  done
}
