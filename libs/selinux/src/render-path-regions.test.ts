import { describe, expect, it } from 'vitest';
import { childrenRegion, exactRegion, globRegion, overlap, subtreeRegion } from './render-path-regions.js';

describe('how a target relates to the files of an entry', () => {
  it.each([
    ['subtree /etc covers subtree /etc/default', subtreeRegion('/etc'), subtreeRegion('/etc/default'), 'covers'],
    ['subtree /etc covers children of /etc', subtreeRegion('/etc'), childrenRegion('/etc'), 'covers'],
    ['children of /etc miss subtree /etc/default (depth >= 2)', childrenRegion('/etc'), subtreeRegion('/etc/default'), 'disjoint'],
    ['subtree /etc/default misses subtree /var', subtreeRegion('/etc/default'), subtreeRegion('/var'), 'disjoint'],
    ['subtree /etc/default partly overlaps subtree /etc', subtreeRegion('/etc/default'), subtreeRegion('/etc'), 'partial'],
    ['/tmp/* covers children of /tmp', globRegion('/tmp/*'), childrenRegion('/tmp'), 'covers'],
    ['/tmp/** covers subtree /tmp/x', globRegion('/tmp/**'), subtreeRegion('/tmp/x'), 'covers'],
    ['/tmp/*.log misses subtree /tmp/x', globRegion('/tmp/*.log'), subtreeRegion('/tmp/x'), 'disjoint'],
    ['/etc/*/x partly overlaps subtree /etc/default', globRegion('/etc/*/x'), subtreeRegion('/etc/default'), 'partial'],
    ['subtree /etc covers /etc/*/x', subtreeRegion('/etc'), globRegion('/etc/*/x'), 'covers'],
    ['subtree /etc covers /etc/{a,b/c}', subtreeRegion('/etc'), globRegion('/etc/{a,b/c}'), 'covers'],
    ['/etc/{a,b/c} partly overlaps subtree /etc', globRegion('/etc/{a,b/c}'), subtreeRegion('/etc'), 'partial'],
    ['/var/{a,b/c} misses subtree /etc', globRegion('/var/{a,b/c}'), subtreeRegion('/etc'), 'disjoint'],
    ['/a/*.log and /a/x* may overlap', globRegion('/a/*.log'), globRegion('/a/x*'), 'partial'],
    ['exact path inside a subtree is covered', subtreeRegion('/etc'), exactRegion('/etc/hosts'), 'covers'],
    ['identical globs cover each other', globRegion('/a/*.log'), globRegion('/a/*.log'), 'covers'],
  ])('%s', (_name, target, entry, expected) => {
    expect(overlap(target, entry)).toBe(expected);
  });
});
