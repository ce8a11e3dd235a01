#!/usr/bin/env bash
# KVMService agent installer.
#
# kvmservice serves this script filled in for one host (GET /install.sh?token=…, or
# `kvmctl vm getscript NAME`): the control plane's address and CA, the agent bundle's URL and
# sha256, and a join token. It checks the host (OS, architecture, LSM, Node.js >= 20), downloads
# and verifies the bundle, writes /etc/kvmagent/config.yaml (0600) and the CA, installs and starts
# kvmagent.service. Running it again upgrades in place; --uninstall removes everything it installed
# and unloads the agent's profiles.
#
# Secrets: the join token is never put on a command line. It comes filled in, or from
# --token-file FILE (- for stdin), or from the KVMAGENT_TOKEN variable, and is written only to the
# 0600 config file.
set -euo pipefail

# --- filled in by kvmservice; "@…@" means not filled in (then use the flags) -------------------
KVM_SERVER=@KVM_SERVER@
KVM_BUNDLE_URL=@KVM_BUNDLE_URL@
KVM_BUNDLE_SHA256=@KVM_BUNDLE_SHA256@
KVM_HOSTNAME=@KVM_HOSTNAME@
KVM_TOKEN=@KVM_TOKEN@
KVM_CA_PEM=@KVM_CA_PEM@
# ------------------------------------------------------------------------------------------------

PROG=kvmagent-install
MIN_NODE_MAJOR=20

usage() {
  cat <<'EOF'
Usage: kvmagent.sh [options]            install or upgrade the KVMService agent
       kvmagent.sh --uninstall [--root DIR] [--no-systemd]

Options (the filled-in values are the defaults):
  --server HOST:PORT[,…]   kvmservice gRPC address(es)
  --bundle-url URL         where to download kvmagent.tgz
  --bundle-file FILE       use a downloaded kvmagent.tgz instead (still sha256-verified)
  --bundle-sha256 HEX      expected sha256 of the bundle
  --ca-file FILE           CA certificate of kvmservice (PEM)
  --token-file FILE        read the join token from FILE (- = standard input);
                           or set KVMAGENT_TOKEN. Never pass a token as an argument.
  --hostname NAME          host name to join as (default: the token's, else this machine's)
  --labels K=V,…           labels to ask for at join (the token's labels win)
  --lsm auto|apparmor|selinux|none
                           enforcer (default auto: the active LSM)
  --dry-run                the agent compiles artifacts but never loads them into the kernel
  --node PATH              Node.js binary to run the agent with (>= 20)
  --no-install-deps        never install packages (fail with the command to run instead)
  --root DIR               install under DIR instead of / (needs --no-systemd)
  --no-systemd             do not install, enable or start the systemd unit
  --uninstall              remove the agent, its files and the profiles it loaded
  -h, --help               this text
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
unfilled() { [[ $1 == @*@ ]]; }
for v in KVM_SERVER KVM_BUNDLE_URL KVM_BUNDLE_SHA256 KVM_HOSTNAME KVM_TOKEN KVM_CA_PEM; do
  if unfilled "${!v}"; then printf -v "$v" '%s' ''; fi
done

# --- arguments -----------------------------------------------------------------------------------
ROOT=/
SYSTEMD=1
UNINSTALL=0
DRY_RUN=0
INSTALL_DEPS=1
LSM=auto
LABELS=''
NODE=''
BUNDLE_FILE=''
CA_FILE=''
TOKEN_FILE=''
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) need_arg "$@"; KVM_SERVER=$2; shift 2 ;;
    --bundle-url) need_arg "$@"; KVM_BUNDLE_URL=$2; shift 2 ;;
    --bundle-file) need_arg "$@"; BUNDLE_FILE=$2; shift 2 ;;
    --bundle-sha256) need_arg "$@"; KVM_BUNDLE_SHA256=$2; shift 2 ;;
    --ca-file) need_arg "$@"; CA_FILE=$2; shift 2 ;;
    --token-file) need_arg "$@"; TOKEN_FILE=$2; shift 2 ;;
    --token | --token=*) die "--token would show the secret in the process list; use --token-file FILE, --token-file - (stdin) or KVMAGENT_TOKEN" ;;
    --hostname) need_arg "$@"; KVM_HOSTNAME=$2; shift 2 ;;
    --labels) need_arg "$@"; LABELS=$2; shift 2 ;;
    --lsm) need_arg "$@"; LSM=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --node) need_arg "$@"; NODE=$2; shift 2 ;;
    --no-install-deps) INSTALL_DEPS=0; shift ;;
    --root) need_arg "$@"; ROOT=$2; shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[[ $ROOT == /* ]] || die "--root must be an absolute path, got $ROOT"
ROOT=${ROOT%/}
if [[ -n $ROOT && $SYSTEMD -eq 1 ]]; then
  die "--root $ROOT installs outside / where systemd cannot run it; add --no-systemd"
fi
if [[ -z $ROOT && $(id -u) -ne 0 ]]; then
  die "run as root (sudo bash $0 …), or install into a directory with --root DIR --no-systemd"
fi

OPT=$ROOT/opt/kvmagent
ETC=$ROOT/etc/kvmagent
STATE=$ROOT/var/lib/kvmagent
UNIT=/etc/systemd/system/kvmagent.service
APPARMOR_DIR=$ROOT/etc/apparmor.d/kvmservice.d
APPARMOR_BOOT=$ROOT/etc/apparmor.d/kvmservice
MANIFEST=$OPT/INSTALL

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvmagent-install.XXXXXXXX")
cleanup() { rm -rf -- "$WORK"; }
trap cleanup EXIT

# --- helpers -------------------------------------------------------------------------------------

# Values that end up in YAML or on command lines are checked against what they may be, so that
# nothing in them can change what the file or the command means.
check() {
  local what=$1 value=$2 pattern=$3
  [[ $value =~ $pattern ]] || die "$what: ${value@Q} is not valid"
}

yaml_string() {
  local s=$1
  [[ $s != *[$'\x01'-$'\x1f\x7f']* ]] || die "a path or value contains a control character"
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

node_major() {
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  [[ $v =~ ^v([0-9]+)\. ]] || return 1
  printf '%s' "${BASH_REMATCH[1]}"
}

os_field() {
  local key=$1
  [[ -r /etc/os-release ]] || return 0
  (. /etc/os-release && printf '%s' "${!key:-}")
}

# The command that installs a distribution package here, or nothing.
package_command() {
  local pkg=$1
  if command -v apt-get >/dev/null 2>&1; then
    printf 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y %s' "$pkg"
  elif command -v dnf >/dev/null 2>&1; then
    printf 'dnf install -y %s' "$pkg"
  elif command -v yum >/dev/null 2>&1; then
    printf 'yum install -y %s' "$pkg"
  elif command -v zypper >/dev/null 2>&1; then
    printf 'zypper --non-interactive install %s' "$pkg"
  fi
}

# Processes running the agent installed under $OPT (by exact path of the program they run).
agent_pids() {
  local dir pid arg
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ -r $dir/cmdline ]] || continue
    while IFS= read -r -d '' arg; do
      if [[ $arg == "$OPT"/current/lib/main.js || $arg == "$OPT"/releases/*/lib/main.js ]]; then
        printf '%s\n' "$pid"
        break
      fi
    done <"$dir/cmdline" 2>/dev/null || true
  done
}

stop_unmanaged_agents() {
  local pids pid i
  pids=$(agent_pids)
  [[ -n $pids ]] || return 0
  say "stopping the agent running from $OPT (pid ${pids//$'\n'/ })"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    [[ -n $(agent_pids) ]] || return 0
    sleep 0.1
  done
  die "the agent (pid ${pids//$'\n'/ }) did not stop within 10 s"
}

# --- uninstall -----------------------------------------------------------------------------------

unload_apparmor() {
  local f
  if [[ -d $APPARMOR_DIR ]]; then
    if [[ -z $ROOT && $1 == kernel ]] && command -v apparmor_parser >/dev/null 2>&1; then
      for f in "$APPARMOR_DIR"/*; do
        [[ -f $f ]] || continue
        apparmor_parser -R -- "$f" >/dev/null 2>&1 || say "apparmor_parser -R $f failed (not loaded?)"
      done
    fi
    rm -rf -- "$APPARMOR_DIR"
    say "removed the AppArmor profiles in $APPARMOR_DIR"
  fi
  rm -f -- "$APPARMOR_BOOT"
}

unload_selinux() {
  local module cil paths
  command -v semodule >/dev/null 2>&1 || return 0
  for module in $(semodule -l 2>/dev/null | awk '$1 ~ /^kvms_[A-Za-z0-9_]*$/ { print $1 }'); do
    # The module records the paths it labelled; relabel them once it is gone.
    paths=''
    if (cd "$WORK" && semodule --cil -E "$module" >/dev/null 2>&1); then
      cil=$WORK/$module.cil
      paths=$(sed -n 's/^; kvmservice-relabel-paths: //p' "$cil" | "$NODE_BIN" -e '
        let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
          try { for (const p of JSON.parse(t || "[]")) if (typeof p === "string" && p.startsWith("/") && !p.includes("\n")) console.log(p); } catch {}
        });' 2>/dev/null || true)
    fi
    semodule -r "$module" || die "semodule -r $module failed"
    say "removed SELinux module $module"
    if [[ -n $paths ]]; then
      while IFS= read -r p; do
        [[ -e $p ]] && { restorecon -RF -- "$p" || say "restorecon $p failed"; }
      done <<<"$paths"
    fi
  done
}

remove_audit_rules() {
  local key
  command -v auditctl >/dev/null 2>&1 || return 0
  for key in $(auditctl -l 2>/dev/null | sed -n 's/.*key=\(kvmservice-[a-z]*\).*/\1/p' | sort -u); do
    auditctl -D -k "$key" >/dev/null 2>&1 || say "auditctl -D -k $key failed"
  done
}

uninstall() {
  local kernel=kernel node_bin=''
  if [[ -r $MANIFEST ]]; then
    grep -q '^dry_run=1$' "$MANIFEST" && kernel=compile-only
    node_bin=$(sed -n 's/^node=//p' "$MANIFEST")
  fi
  NODE_BIN=${node_bin:-node}
  if [[ -z $ROOT && $SYSTEMD -eq 1 ]] && command -v systemctl >/dev/null 2>&1; then
    if [[ -e $UNIT ]]; then
      systemctl disable --now kvmagent.service >/dev/null 2>&1 || say "systemctl disable --now kvmagent.service failed"
      rm -f -- "$UNIT"
      systemctl daemon-reload || true
      say "removed kvmagent.service"
    fi
  fi
  stop_unmanaged_agents
  unload_apparmor "$kernel"
  if [[ -z $ROOT && $kernel == kernel ]]; then
    unload_selinux
    remove_audit_rules
  fi
  rm -rf -- "$OPT" "$ETC" "$STATE"
  if [[ -n $ROOT ]]; then
    # Leave DIR as it was before the install: drop the directories the install created, if empty.
    local d
    for d in etc/apparmor.d etc/systemd/system etc/systemd etc var/lib var opt; do
      rmdir -- "$ROOT/$d" 2>/dev/null || true
    done
  fi
  say "kvmagent uninstalled${ROOT:+ from $ROOT}"
}

if [[ $UNINSTALL -eq 1 ]]; then
  uninstall
  exit 0
fi

# --- checks --------------------------------------------------------------------------------------

[[ $(uname -s) == Linux ]] || die "the agent runs on Linux only, this is $(uname -s)"
ARCH=$(uname -m)
case $ARCH in
  x86_64 | aarch64 | ppc64le | s390x) ;;
  *) die "architecture $ARCH is not supported (Node.js 20 runs on x86_64, aarch64, ppc64le, s390x)" ;;
esac
OS_ID=$(os_field ID)
OS_VERSION=$(os_field VERSION_ID)
OS_LIKE=$(os_field ID_LIKE)
case " $OS_ID $OS_LIKE " in
  *" debian "* | *" ubuntu "* | *" rhel "* | *" fedora "* | *" centos "* | *" suse "* | *" sles "*) ;;
  *) say "warning: ${OS_ID:-this OS} ${OS_VERSION} is not one the agent is tested on (Debian, Ubuntu, RHEL and derivatives, SUSE); continuing" ;;
esac

[[ -n $KVM_SERVER ]] || die "no control plane address: use the installer kvmservice serves (GET /install.sh, kvmctl vm getscript) or --server HOST:PORT"
IFS=, read -r -a SERVERS <<<"$KVM_SERVER"
for s in "${SERVERS[@]}"; do check "--server" "$s" '^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$'; done
[[ -z $KVM_HOSTNAME ]] || check "--hostname" "$KVM_HOSTNAME" '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$'
declare -a LABEL_LIST=()
if [[ -n $LABELS ]]; then
  IFS=, read -r -a LABEL_LIST <<<"$LABELS"
  for l in "${LABEL_LIST[@]}"; do check "--labels" "$l" '^([A-Za-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$'; done
fi
check "--lsm" "$LSM" '^(auto|apparmor|selinux|none)$'

# The join token: filled in, from a file or stdin, or from the environment.
TOKEN=$KVM_TOKEN
if [[ -n $TOKEN_FILE ]]; then
  if [[ $TOKEN_FILE == - ]]; then
    IFS= read -r TOKEN || true
  else
    [[ -r $TOKEN_FILE ]] || die "--token-file $TOKEN_FILE: cannot read it"
    IFS= read -r TOKEN <"$TOKEN_FILE" || true
  fi
elif [[ -n ${KVMAGENT_TOKEN:-} ]]; then
  TOKEN=$KVMAGENT_TOKEN
fi
TOKEN=${TOKEN//[[:space:]]/}
[[ -z $TOKEN ]] || [[ $TOKEN =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || die "the join token is not of the form <id>.<secret> (kvmctl token create)"
if [[ -z $TOKEN && ! -s $STATE/credential.json ]]; then
  die "no join token and the host has not joined before: pass --token-file FILE (or - for stdin) or set KVMAGENT_TOKEN"
fi

# The LSM the agent will enforce with.
ACTIVE_LSMS=''
[[ -r /sys/kernel/security/lsm ]] && ACTIVE_LSMS=$(tr ',' ' ' </sys/kernel/security/lsm)
lsm_active() { [[ " $ACTIVE_LSMS " == *" $1 "* ]]; }
if [[ $LSM == auto ]]; then
  if lsm_active apparmor; then LSM=apparmor
  elif lsm_active selinux; then LSM=selinux
  elif [[ $DRY_RUN -eq 1 ]]; then LSM=auto
  else
    die "neither AppArmor nor SELinux is active on this host (${ACTIVE_LSMS:-no /sys/kernel/security/lsm}): enable one, or choose --lsm none (audit only) or --dry-run"
  fi
elif [[ $LSM != none && $DRY_RUN -eq 0 ]] && ! lsm_active "$LSM"; then
  die "--lsm $LSM: $LSM is not active on this host (active: ${ACTIVE_LSMS:-none}); enable it or use --dry-run"
fi
case $LSM in
  apparmor) command -v apparmor_parser >/dev/null 2>&1 || die "apparmor_parser is missing: $(package_command apparmor)" ;;
  selinux) command -v semodule >/dev/null 2>&1 && command -v restorecon >/dev/null 2>&1 || die "semodule/restorecon are missing: $(package_command policycoreutils)" ;;
esac

# Node.js >= 20.
find_node() {
  local candidate
  for candidate in "$NODE" "$(command -v node 2>/dev/null || true)" /usr/bin/node /usr/local/bin/node /usr/bin/nodejs; do
    [[ -n $candidate && -x $candidate ]] || continue
    local major
    major=$(node_major "$candidate") || continue
    if [[ $major -ge $MIN_NODE_MAJOR ]]; then
      printf '%s' "$(readlink -f "$candidate")"
      return 0
    fi
  done
  return 1
}
if [[ -n $NODE ]]; then
  NODE_BIN=$(find_node) && [[ $NODE_BIN == "$(readlink -f "$NODE")" ]] || die "--node $NODE: not Node.js $MIN_NODE_MAJOR or newer"
elif ! NODE_BIN=$(find_node); then
  cmd=$(package_command nodejs)
  found=$(command -v node 2>/dev/null || true)
  have=''
  if [[ -n $found ]]; then have=" (found $("$found" --version 2>/dev/null || echo unknown) at $found)"; fi
  if [[ $INSTALL_DEPS -eq 1 && -z $ROOT && -n $cmd ]]; then
    say "Node.js $MIN_NODE_MAJOR or newer is needed$have; installing the distribution's nodejs: $cmd"
    sh -c "$cmd" >&2 || die "installing nodejs failed; run: $cmd"
  fi
  hint=''
  if [[ -n $cmd ]]; then hint="The distribution package: $cmd. "; fi
  NODE_BIN=$(find_node) || die "Node.js $MIN_NODE_MAJOR or newer is needed$have. ${hint}If that gives an older version (Debian 12 and Ubuntu 22.04 ship 18), install Node.js $MIN_NODE_MAJOR+ from your vendor's or Node.js's own packages, then re-run with --node /path/to/node"
fi
MODE=''
[[ $DRY_RUN -eq 0 ]] || MODE=' (dry run: compile only)'
say "host: ${OS_ID:-linux} ${OS_VERSION} $ARCH, LSM $LSM$MODE, Node.js $("$NODE_BIN" --version) at $NODE_BIN"

# --- the bundle ----------------------------------------------------------------------------------

[[ -n $KVM_BUNDLE_SHA256 ]] || die "no sha256 for the bundle: use the installer kvmservice serves or --bundle-sha256 HEX (an unverified bundle is never installed)"
check "--bundle-sha256" "$KVM_BUNDLE_SHA256" '^[0-9a-f]{64}$'
TGZ=$WORK/kvmagent.tgz
if [[ -n $BUNDLE_FILE ]]; then
  cp -- "$BUNDLE_FILE" "$TGZ" || die "--bundle-file $BUNDLE_FILE: cannot read it"
else
  [[ -n $KVM_BUNDLE_URL ]] || die "no bundle URL: use the installer kvmservice serves or --bundle-url URL"
  check "--bundle-url" "$KVM_BUNDLE_URL" '^https?://[^[:space:]]+$'
  say "downloading $KVM_BUNDLE_URL"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto '=http,https' --retry 3 --max-time 300 -o "$TGZ" -- "$KVM_BUNDLE_URL" || die "download of $KVM_BUNDLE_URL failed"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$TGZ" -- "$KVM_BUNDLE_URL" || die "download of $KVM_BUNDLE_URL failed"
  else
    die "neither curl nor wget is installed: $(package_command curl)"
  fi
fi
GOT=$(sha256sum -- "$TGZ" | cut -d' ' -f1)
[[ $GOT == "$KVM_BUNDLE_SHA256" ]] || die "the bundle's sha256 is $GOT, expected $KVM_BUNDLE_SHA256: refusing to install it"

# Only kvmagent/… regular files and directories, nothing absolute, no way up.
while IFS= read -r entry; do
  [[ $entry == kvmagent/* || $entry == kvmagent/ ]] && [[ $entry != *..* ]] || die "the bundle contains an unexpected path: ${entry@Q}"
done < <(tar -tzf "$TGZ")
if tar -tvzf "$TGZ" | grep -qv '^[-d]'; then die "the bundle contains links or special files"; fi

RELEASE_ID=${GOT:0:16}
RELEASE=$OPT/releases/$RELEASE_ID
mkdir -p -- "$OPT/releases" "$OPT/bin"
chmod 0755 -- "$OPT" "$OPT/releases" "$OPT/bin"
if [[ ! -f $RELEASE/lib/main.js ]]; then
  rm -rf -- "$RELEASE.tmp"
  mkdir -p -- "$RELEASE.tmp"
  tar -xzf "$TGZ" -C "$RELEASE.tmp" --strip-components=1 --no-same-owner --no-same-permissions
  mv -T -- "$RELEASE.tmp" "$RELEASE"
fi
# /dev/null as its config: the check must not depend on the settings written below.
VERSION=$("$NODE_BIN" "$RELEASE/lib/main.js" --version --config /dev/null 2>&1) || die "the agent does not start with $NODE_BIN: $VERSION"
PREVIOUS=$(readlink "$OPT/current" 2>/dev/null || true)

# --- files ---------------------------------------------------------------------------------------

umask 077
mkdir -p -- "$ETC" "$STATE"
chmod 0700 -- "$ETC" "$STATE"

CA_PATH=$ETC/ca.crt
if [[ -n $CA_FILE ]]; then
  [[ -r $CA_FILE ]] || die "--ca-file $CA_FILE: cannot read it"
  KVM_CA_PEM=$(<"$CA_FILE")
fi
[[ $KVM_CA_PEM == *"-----BEGIN CERTIFICATE-----"* ]] || die "no CA certificate of kvmservice: use the installer kvmservice serves or --ca-file FILE"
printf '%s\n' "$KVM_CA_PEM" >"$CA_PATH.tmp"
chmod 0644 -- "$CA_PATH.tmp"
mv -f -- "$CA_PATH.tmp" "$CA_PATH"

CONFIG=$ETC/config.yaml
{
  printf '# kvmagent settings, written by the KVMService installer (re-running it rewrites this file).\n'
  printf 'server:\n'
  for s in "${SERVERS[@]}"; do printf '  - %s\n' "$(yaml_string "$s")"; done
  printf 'ca: %s\n' "$(yaml_string "$CA_PATH")"
  printf 'state-dir: %s\n' "$(yaml_string "$STATE")"
  printf 'lsm: %s\n' "$LSM"
  printf 'dry-run: %s\n' "$([[ $DRY_RUN -eq 1 ]] && echo true || echo false)"
  [[ -z $ROOT ]] || printf 'apparmor-dir: %s\n' "$(yaml_string "$APPARMOR_DIR")"
  [[ -z $KVM_HOSTNAME ]] || printf 'hostname: %s\n' "$(yaml_string "$KVM_HOSTNAME")"
  if [[ ${#LABEL_LIST[@]} -gt 0 ]]; then
    printf 'labels:\n'
    for l in "${LABEL_LIST[@]}"; do printf '  %s: %s\n' "$(yaml_string "${l%%=*}")" "$(yaml_string "${l#*=}")"; done
  fi
  # Used only while the host has no usable credential (first join, or after a revocation).
  if [[ -n $TOKEN ]]; then printf 'token: %s\n' "$(yaml_string "$TOKEN")"; fi
} >"$CONFIG.tmp"
chmod 0600 -- "$CONFIG.tmp"
CONFIG_CHANGED=1
if [[ -f $CONFIG ]] && cmp -s -- "$CONFIG.tmp" "$CONFIG"; then CONFIG_CHANGED=0; fi
mv -f -- "$CONFIG.tmp" "$CONFIG"

umask 022
cat >"$OPT/bin/kvmagent.tmp" <<EOF
#!/bin/sh
# Runs the installed KVMService agent with the Node.js the installer checked (a small young
# generation keeps the idle agent within its memory budget).
exec $(printf '%q' "$NODE_BIN") --max-semi-space-size=1 $(printf '%q' "$OPT/current/lib/main.js") "\$@"
EOF
chmod 0755 -- "$OPT/bin/kvmagent.tmp"
mv -f -- "$OPT/bin/kvmagent.tmp" "$OPT/bin/kvmagent"

ln -sfn -- "releases/$RELEASE_ID" "$OPT/current.tmp"
mv -Tf -- "$OPT/current.tmp" "$OPT/current"
{
  printf 'version=%s\n' "$VERSION"
  printf 'sha256=%s\n' "$GOT"
  printf 'node=%s\n' "$NODE_BIN"
  printf 'lsm=%s\n' "$LSM"
  printf 'dry_run=%s\n' "$DRY_RUN"
  printf 'systemd=%s\n' "$SYSTEMD"
} >"$MANIFEST"

# Keep the running release and the one before it.
for old in "$OPT"/releases/*; do
  name=${old##*/}
  [[ $name == "$RELEASE_ID" || "releases/$name" == "$PREVIOUS" ]] || rm -rf -- "$old"
done

if [[ -n $PREVIOUS && $PREVIOUS != "releases/$RELEASE_ID" ]]; then
  say "upgraded the agent to $VERSION (bundle ${GOT:0:12})"
elif [[ -n $PREVIOUS ]]; then
  say "the agent is at $VERSION already (bundle ${GOT:0:12})"
else
  say "installed the agent $VERSION (bundle ${GOT:0:12}) in $OPT"
fi

# --- service -------------------------------------------------------------------------------------

if [[ $SYSTEMD -eq 0 ]]; then
  say "not touching systemd; start the agent with: $OPT/bin/kvmagent --config $CONFIG"
  exit 0
fi
command -v systemctl >/dev/null 2>&1 || die "systemctl not found: this host does not run systemd; re-run with --no-systemd and start $OPT/bin/kvmagent yourself"
UNIT_CHANGED=1
if [[ -f $UNIT ]] && cmp -s -- "$RELEASE/systemd/kvmagent.service" "$UNIT"; then UNIT_CHANGED=0; fi
install -m 0644 -- "$RELEASE/systemd/kvmagent.service" "$UNIT"
systemctl daemon-reload
systemctl enable kvmagent.service >/dev/null 2>&1 || die "systemctl enable kvmagent.service failed"
if [[ $UNIT_CHANGED -eq 1 || $CONFIG_CHANGED -eq 1 || $PREVIOUS != "releases/$RELEASE_ID" ]] || ! systemctl is-active --quiet kvmagent.service; then
  systemctl restart kvmagent.service || die "kvmagent.service did not start: journalctl -u kvmagent.service"
fi
for ((i = 0; i < 30; i++)); do
  systemctl is-active --quiet kvmagent.service && break
  sleep 1
done
systemctl is-active --quiet kvmagent.service || die "kvmagent.service is not running: journalctl -u kvmagent.service"
say "kvmagent.service is running; its state: $OPT/bin/kvmagent status --config $CONFIG"
