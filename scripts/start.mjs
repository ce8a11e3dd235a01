#!/usr/bin/env node
// `npm start`: will run kvmservice on the embedded SQLite store with a local agent (issue 7).
console.error(`kvmservice: the control plane is not built yet.
When it is, \`npm start\` will:
  1. start kvmservice on the embedded SQLite store (./data/kvmservice.db), gRPC on :32770, HTTP on :9090;
  2. join a local kvmagent for this machine (AppArmor/SELinux if the kernel has one, otherwise dry-run);
  3. print how to use it, e.g. \`npx kvmctl get kvm\`.
What works today: \`npx kvmctl validate -f FILE\`.`);
process.exit(1);
