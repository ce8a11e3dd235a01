#!/usr/bin/env -S node --max-semi-space-size=1
import v8 from 'node:v8';
v8.setFlagsFromString('--optimize-for-size');
v8.setFlagsFromString('--no-opt');
setTimeout(() => { v8.setFlagsFromString('--opt'); }, 30000).unref();
await import('../dist/main.js');
