console.error('kvmagent: the agent is not built yet (issue 8); nothing is running.');
process.exit(1);
