// Benchmark: policy globs in @kvmservice/discovery (built) — globMatches, the Thompson NFA the
// evaluator (alert attribution, log replay) uses — against the backtracking regular expression it
// replaced (the same translation, run by V8), in the same process:
// 1. typical policy patterns and paths: nanoseconds per match, ratio NFA / regex;
// 2. a hostile pair, `/**a**a…**a b` against `/aaaa…`: the regex's time grows exponentially with
//    the number of `**`, the NFA's linearly with pattern × path.
// Not a test: no assertions.
import { globMatches } from '@kvmservice/discovery';

const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The translation globMatches used before: AppArmor glob → anchored regular expression. */
function regexOf(glob) {
  const esc = (c) => (/[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c);
  let out = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        while (glob[i + 1] === '*') i++;
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else if (ch === '{') {
      depth++;
      out += '(?:';
    } else if (ch === '}' && depth > 0) {
      depth--;
      out += ')';
    } else if (ch === ',' && depth > 0) out += '|';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^/' : ''}${body}]`;
      i = end;
    } else out += esc(ch);
  }
  return new RegExp(`^${out}${')'.repeat(depth)}$`, 's');
}

function cpuNs(fn) {
  const t = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) * 1000;
}

// ---- 1. typical patterns ----
const globs = ['/etc/**', '/proc/*/cmdline', '/usr/{bin,sbin}/*', '/var/log/*.log', '/home/*/.ssh/{authorized_keys,id_*}', '/srv/www/[a-z]*/index.html', '/usr/lib/python3/**/*.py', '/run/*/?.sock'];
const paths = ['/etc/ssl/certs/ca.pem', '/proc/1234/cmdline', '/usr/sbin/nginx', '/var/log/syslog', '/home/alice/.ssh/id_rsa', '/srv/www/site/index.html', '/tmp/x', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/python3/dist-packages/yaml/reader.py', '/run/app/a.sock'];
const regexes = globs.map(regexOf);
const N = 1_000_000;
let agree = 0;
const best = (fn) => Math.min(...[0, 1, 2].map(() => cpuNs(fn)));
const regexNs = best(() => {
  for (let k = 0; k < N; k++) if (regexes[k % globs.length].test(paths[k % paths.length])) agree++;
});
const nfaNs = best(() => {
  for (let k = 0; k < N; k++) if (globMatches(globs[k % globs.length], paths[k % paths.length])) agree--;
});
console.log(`typical patterns (${globs.length} globs x ${paths.length} paths, ${fmt(N)} matches, best of 3; results ${agree === 0 ? 'agree' : 'DIFFER'}):`);
console.log(`  regex ${fmt(regexNs / N, 0)} ns/match, NFA ${fmt(nfaNs / N, 0)} ns/match: NFA/regex = ${fmt(nfaNs / regexNs, 1)}x`);

// ---- 2. hostile ----
console.log('hostile `/**a**a…b` against `/a…a` (no match):');
for (const [stars, length] of [[8, 24], [8, 32], [8, 40]]) {
  const glob = `/${'**a'.repeat(stars)}b`;
  const path = `/${'a'.repeat(length)}`;
  const re = regexOf(glob);
  const r = cpuNs(() => re.test(path));
  const n = cpuNs(() => globMatches(glob, path));
  console.log(`  ${stars} stars, ${length} chars: regex ${fmt(r / 1e6, 1)} ms, NFA ${fmt(n / 1e6, 3)} ms`);
}
const bigGlob = `/${'**a'.repeat(30)}b`;
const bigPath = `/${'a'.repeat(4096)}`;
globMatches(bigGlob, '/');
const big = cpuNs(() => globMatches(bigGlob, bigPath));
console.log(`  30 stars, 4096 chars: NFA ${fmt(big / 1e6, 1)} ms (the regex has C(4096, 30) ways to try and does not finish)`);
