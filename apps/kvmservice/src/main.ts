console.error('kvmservice: the control plane is not built yet (issue 7); nothing is running.');
process.exit(1);
