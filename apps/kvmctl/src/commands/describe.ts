import type { Command } from 'commander';
import type { Event__Output, StreamEventsResponse__Output } from '@kvmservice/api';
import { VIRTUAL_MACHINE, type Resource, type ResourceKind } from '@kvmservice/resources';
import { RpcError, withSession, type GlobalOptions, type ServerSession } from '../connection.js';
import { describeHost } from '../describe/describe-host.js';
import { describeObject } from '../describe/describe-object.js';
import { HOST_SELECTING_KINDS, policySelectsHost } from '../describe/selection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { checkSelector, getObject, listObjects } from '../objects.js';
import { countFlag } from '../options.js';
import { parseTypeArgs, typeNames } from '../resource-types.js';

async function recentAlerts(session: ServerSession, host: string, limit: number): Promise<Event__Output[] | { error: string }> {
  const events: Event__Output[] = [];
  try {
    await session.stream(
      (c) => c.streamEvents({ host, type: 'alert', limit, follow: false, operation: '', source: '', resource: '', policy: '', since: 0 }),
      (m: StreamEventsResponse__Output) => void (m.event && events.push(m.event)),
    );
  } catch (e) {
    return { error: (e as Error).message };
  }
  return events.reverse();
}

/** Lists read once per command run, however many objects are described. */
type ListCache = (kind: ResourceKind) => Promise<Resource[]>;

function listCache(session: ServerSession): ListCache {
  const lists = new Map<ResourceKind, Promise<Resource[]>>();
  return (kind) => {
    if (!lists.has(kind)) lists.set(kind, listObjects(session, kind).then((l) => l.items));
    return lists.get(kind)!;
  };
}

async function describeOne(session: ServerSession, lists: ListCache, kind: ResourceKind, object: Resource, alertLimit: number, now: Date): Promise<string> {
  if (kind === VIRTUAL_MACHINE) {
    const selected = [];
    for (const policyKind of HOST_SELECTING_KINDS) {
      for (const policy of await lists(policyKind)) {
        if (policySelectsHost(policyKind, policy, object)) selected.push({ kind: policyKind.kind, name: policy.metadata.name, resourceVersion: policy.metadata.resourceVersion ?? '' });
      }
    }
    const alerts = alertLimit > 0 ? await recentAlerts(session, object.metadata.name, alertLimit) : [];
    return describeHost({ host: object, selected, alerts, alertLimit, now });
  }
  if (HOST_SELECTING_KINDS.includes(kind)) {
    const hosts = await lists(VIRTUAL_MACHINE);
    return describeObject({ object, selectedHosts: hosts.filter((h) => policySelectsHost(kind, object, h)).map((h) => h.metadata.name), now });
  }
  return describeObject({ object, now });
}

/** `kvmctl describe TYPE [NAME…] [-l SEL]`. */
export function registerDescribe(program: Command, io: CliIo): void {
  program
    .command('describe')
    .description('Show details of hosts (facts, connection, per-policy result, recent alerts) or policies (selected hosts)')
    .argument('[TYPE_AND_NAMES...]', 'TYPE [NAME…] or TYPE/NAME…')
    .option('-l, --selector <selector>', 'describe every object of TYPE that matches')
    .option('--alerts <n>', 'recent alerts to show for a host (0 = none)', '10')
    .addHelpText(
      'after',
      `
Examples:
  # Facts, connection, applied revision, the result of each policy, recent alerts
  kvmctl describe kvm web-1
  # Which hosts a policy selects
  kvmctl describe hsp block-shadow
  kvmctl describe kvm -l env=prod`,
    )
    .action(async (args: string[], opts: { selector?: string; alerts: string }, command: Command) => {
      const groups = parseTypeArgs(args);
      if (groups.length === 0) throw usageError(`you must specify the type of resource to describe (one of ${typeNames().filter((t) => t !== 'tokens').join(', ')})`);
      const selector = checkSelector(opts.selector);
      const alertLimit = countFlag('--alerts', opts.alerts);
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const errors: string[] = [];
        const texts: string[] = [];
        const now = new Date();
        const lists = listCache(session);
        for (const { type, names } of groups) {
          if (type.type !== 'resource') throw usageError('tokens cannot be described; use kvmctl token list -o yaml');
          let objects: Resource[];
          if (names.length === 0) objects = (await listObjects(session, type.kind, selector)).items;
          else {
            objects = [];
            for (const name of names) {
              try {
                objects.push(await getObject(session, type.kind, name));
              } catch (e) {
                if (e instanceof RpcError && e.notFound) errors.push(e.message);
                else throw e;
              }
            }
          }
          for (const object of objects) texts.push(await describeOne(session, lists, type.kind, object, alertLimit, now));
        }
        io.stdout(texts.join('\n\n'));
        if (texts.length === 0 && errors.length === 0) io.stderr('No resources found.\n');
        if (errors.length > 0) {
          for (const line of errors.slice(0, -1)) io.stderr(`error: ${line}\n`);
          throw new CliError(errors[errors.length - 1]!);
        }
      });
    });
}
