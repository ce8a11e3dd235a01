#!/usr/bin/env -S node --max-semi-space-size=1
// The agent idles most of the time, so memory is favoured over speed: a 1 MiB young generation
// (the shebang; `node bin/kvmagent.js` runs without it), heap growth in small steps, and the
// optimising compiler held back during start-up, whose hot code (loading the protocol
// definitions) runs once — optimising it would only keep its machine code resident. After
// start-up the compiler is on again, for the parser under load.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--optimize-for-size');
setFlagsFromString('--no-opt');
setTimeout(() => setFlagsFromString('--opt'), 30_000).unref();
await import('../dist/main.js');
