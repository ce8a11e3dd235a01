/**
 * Validates Kubernetes objects against the API's OpenAPI schemas as compiled by the
 * `kubernetes-models` packages (types, required fields, enums, formats), and also refuses fields
 * the schema does not define (as `kubectl --validate=strict` does): the compiled validators read
 * every property their schema defines, so a key they never read is unknown.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

type Validator = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] | null };

const SCHEMAS: Record<string, [pkg: string, module: string]> = {
  'v1/ConfigMap': ['kubernetes-models', 'IoK8sApiCoreV1ConfigMap'],
  'v1/Secret': ['kubernetes-models', 'IoK8sApiCoreV1Secret'],
  'v1/Service': ['kubernetes-models', 'IoK8sApiCoreV1Service'],
  'v1/ServiceAccount': ['kubernetes-models', 'IoK8sApiCoreV1ServiceAccount'],
  'apps/v1/Deployment': ['kubernetes-models', 'IoK8sApiAppsV1Deployment'],
  'apps/v1/StatefulSet': ['kubernetes-models', 'IoK8sApiAppsV1StatefulSet'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models', 'IoK8sApiPolicyV1PodDisruptionBudget'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-models', 'IoK8sApiNetworkingV1NetworkPolicy'],
  'monitoring.coreos.com/v1/ServiceMonitor': ['@kubernetes-models/prometheus-operator', 'MonitoringCoreosComV1ServiceMonitor'],
};

function validatorFor(apiVersion: string, kind: string): Validator | undefined {
  const entry = SCHEMAS[`${apiVersion}/${kind}`];
  if (!entry) return undefined;
  // The packages do not export _schemas/; load the compiled validator by path.
  const dir = dirname(require.resolve(`${entry[0]}/package.json`));
  return (require(join(dir, '_schemas', `${entry[1]}.js`)) as { validate: Validator }).validate;
}

function tracked(value: unknown, path: string, read: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.prototype.hasOwnProperty.call(target, key)) {
        const child = `${path}/${key}`;
        read.add(child);
        return tracked((target as Record<string, unknown>)[key], child, read);
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

function unread(value: unknown, path: string, read: Set<string>, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const p = `${path}/${key}`;
    if (read.has(p)) unread(child, p, read, out);
    else out.push(`${p}: unknown field`);
  }
}

/** Problems of one object ("" path = the object), empty when it is valid. */
export function kubernetesObjectProblems(object: unknown): string[] {
  if (object === null || typeof object !== 'object') return ['not an object'];
  const { apiVersion, kind } = object as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind are required'];
  const validate = validatorFor(apiVersion, kind);
  if (!validate) return [`${apiVersion} ${kind}: no schema known to the test (add it to test/support/k8s-schemas.ts)`];
  const read = new Set<string>();
  const problems: string[] = [];
  if (!validate(tracked(object, '', read))) {
    for (const e of validate.errors ?? []) problems.push(`${e.instancePath || '/'}: ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
  }
  unread(object, '', read, problems);
  return problems;
}

/** Kinds this validator knows, for tests that check every rendered kind is covered. */
export const knownKinds = Object.keys(SCHEMAS);
