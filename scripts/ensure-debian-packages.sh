#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (LSM tools, etcd, reference parsers,
# qemu for the kernel tier). As root it installs what is missing and says so; otherwise it fails
# naming the exact command. A missing tool is never a reason to skip a test.
set -euo pipefail

packages=(
  apparmor apparmor-utils python3-libapparmor python3-apparmor       # apparmor_parser, libapparmor reference
  etcd-server etcd-client                                              # real etcd for store and e2e tests
  selinux-policy-default semodule-utils policycoreutils checkpolicy secilc selinux-utils setools
  policycoreutils-python-utils python3-sepolgen                        # audit2allow reference
  python3-grpcio python3-grpc-tools                                    # API proof from Python
  prometheus                                                           # promtool check metrics
  qemu-system-x86 busybox-static cpio                                  # kernel tier (AppArmor in a VM)
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev  # Helm chart rendering
  systemd                                                              # systemd-analyze verify
  zsh                                                                  # kvmctl completion test
  shellcheck curl                                                      # installer lint and test
)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "kvmservice tests need Debian packages that are not installed: ${missing[*]}" >&2
  echo "install them as root with: $cmd" >&2
  exit 1
fi
echo "kvmservice tests: installing missing Debian packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
