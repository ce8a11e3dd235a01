import { describe, expect, it } from 'vitest';
import { aggregatePaths, type AggregationOptions, type PathFacts } from './aggregate-paths.js';
import { ACCESS_MAP, ACCESS_READ, ACCESS_WRITE } from './observation.js';
import { DEFAULT_COLLAPSE_ROOTS, DEFAULT_NEVER_COLLAPSE } from './host-policies.js';

const options: AggregationOptions = {
  threshold: 3,
  collapseRoots: DEFAULT_COLLAPSE_ROOTS,
  neverCollapse: new Set(DEFAULT_NEVER_COLLAPSE),
  ownerOnly: true,
  maxPathLength: 200,
};

const read: PathFacts = { access: ACCESS_READ, notOwner: false };
const facts = (entries: [string, PathFacts][]) => new Map(entries);

describe('aggregatePaths', () => {
  it('keeps up to `threshold` children as paths and collapses more into a recursive directory', () => {
    const three = aggregatePaths(facts(['a', 'b', 'c'].map((n) => [`/usr/lib/app/${n}`, read])), options);
    expect(three.dirs).toEqual([]);
    expect(three.paths.map((p) => p.path)).toEqual(['/usr/lib/app/a', '/usr/lib/app/b', '/usr/lib/app/c']);
    const four = aggregatePaths(facts(['a', 'b', 'c', 'sub/d'].map((n) => [`/usr/lib/app/${n}`, read])), options);
    expect(four).toEqual({ paths: [], dirs: [{ dir: '/usr/lib/app/', recursive: true, readOnly: true, ownerOnly: true }] });
  });

  it('the threshold is configurable', () => {
    const paths = facts(['a', 'b', 'c', 'd'].map((n) => [`/srv/data/${n}`, read]));
    expect(aggregatePaths(paths, { ...options, threshold: 4 }).dirs).toEqual([]);
    expect(aggregatePaths(paths, { ...options, threshold: 0 }).dirs.map((d) => d.dir)).toEqual(['/srv/data/']);
  });

  it('collapses /proc, /sys and /tmp whatever the count; readOnly and ownerOnly hold only if they hold for every path', () => {
    const r = aggregatePaths(
      facts([
        ['/proc/1234/cmdline', read],
        ['/proc/self/status', read],
        ['/sys/class/net/eth0/address', { access: ACCESS_READ, notOwner: true }],
        ['/tmp/x.1', { access: ACCESS_WRITE | ACCESS_READ, notOwner: false }],
      ]),
      options,
    );
    expect(r.paths).toEqual([]);
    expect(r.dirs).toEqual([
      { dir: '/proc/', recursive: true, readOnly: true, ownerOnly: true },
      { dir: '/sys/', recursive: true, readOnly: true, ownerOnly: false },
      { dir: '/tmp/', recursive: true, readOnly: false, ownerOnly: true },
    ]);
  });

  it('never widens a listed directory (five files of /etc do not grant /etc/shadow)', () => {
    const etc = facts(['passwd', 'group', 'hosts', 'resolv.conf', 'nsswitch.conf'].map((n) => [`/etc/${n}`, read]));
    const r = aggregatePaths(etc, options);
    expect(r.dirs).toEqual([]);
    expect(r.paths).toHaveLength(5);
    // deeper directories still collapse
    const ssl = aggregatePaths(facts(['a', 'b', 'c', 'd'].map((n) => [`/etc/ssl/certs/${n}.pem`, read])), options);
    expect(ssl.dirs.map((d) => d.dir)).toEqual(['/etc/ssl/certs/']);
  });

  it('a mapped or written file is not read-only', () => {
    const r = aggregatePaths(facts([['/usr/lib/x.so', { access: ACCESS_READ | ACCESS_MAP, notOwner: false }]]), { ...options, ownerOnly: false });
    expect(r.paths).toEqual([{ path: '/usr/lib/x.so', readOnly: false, ownerOnly: false }]);
  });

  it('a directory that was itself accessed becomes a non-recursive directory rule', () => {
    const r = aggregatePaths(facts([['/home/user/.ssh/', read], ['/home/user/.ssh/known_hosts', read]]), options);
    expect(r.dirs).toEqual([{ dir: '/home/user/.ssh/', recursive: false, readOnly: true, ownerOnly: true }]);
    // the file is inside the non-recursive rule's reach but keeps its own rule
    expect(r.paths.map((p) => p.path)).toEqual(['/home/user/.ssh/known_hosts']);
  });

  it('a path too long for matchPaths is covered by its directory', () => {
    const long = `/var/cache/${'x'.repeat(250)}`;
    const r = aggregatePaths(facts([[long, read]]), options);
    expect(r.paths).toEqual([]);
    expect(r.dirs).toEqual([{ dir: '/var/cache/', recursive: false, readOnly: true, ownerOnly: true }]);
  });
});
