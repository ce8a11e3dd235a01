/** `kvmctl describe hsp|ccnp|cnp|dsp NAME`: metadata, the hosts a policy selects, and the spec. */
import { toYaml, type Resource } from '@kvmservice/resources';
import { age } from '../output/age.js';
import { pairs, str } from '../output/fields.js';
import { DescribeWriter } from './describe-writer.js';

export interface ObjectDescription {
  object: Resource;
  /** Names of the hosts the policy selects now; undefined for kinds that select no hosts. */
  selectedHosts?: string[];
  now: Date;
}

export function describeObject({ object, selectedHosts, now }: ObjectDescription): string {
  const w = new DescribeWriter();
  const md = object.metadata;
  w.field(0, 'Name', md.name);
  w.field(0, 'Kind', `${object.kind} (${object.apiVersion})`);
  w.field(0, 'Labels', pairs(md.labels).split(',').filter((s) => s !== ''));
  w.field(0, 'Annotations', pairs(md.annotations).split(',').filter((s) => s !== ''));
  w.field(0, 'CreationTimestamp', md.creationTimestamp ? `${md.creationTimestamp} (${age(md.creationTimestamp, now)} ago)` : '');
  w.field(0, 'ResourceVersion', str(md.resourceVersion));
  w.field(0, 'Generation', str(md.generation));
  if (selectedHosts !== undefined) w.field(0, 'Selected hosts', selectedHosts.length === 0 ? '<none>' : selectedHosts.join(', '));
  if (object.spec !== undefined) {
    w.section(0, 'Spec');
    w.text(1, toYaml([object.spec]));
  }
  if (object.status !== undefined) {
    w.section(0, 'Status');
    w.text(1, toYaml([object.status]));
  }
  return w.toString();
}
