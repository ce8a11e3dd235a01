/**
 * ajv validators built from the upstream schemas in ../shared/conformance: the reference our own
 * validation is compared with.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { conformanceDir } from './conformance.js';
import { isCidr } from '@kvmservice/resources';

type Schema = Record<string, unknown>;

/** Kubernetes' strict field validation: an object schema with properties admits no other keys. */
function rejectUnknownFields(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rejectUnknownFields);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = rejectUnknownFields(v);
  if (out.type === 'object' && out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

function newAjv(): Ajv {
  // CRD patterns are Go RE2; `\\PC` (not a control character) is `\\P{C}` in JavaScript.
  const regExp = (pattern: string, flags: string) => new RegExp(pattern.replace(/\\PC/g, '\\P{C}'), flags);
  regExp.code = 'regExp';
  const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp } });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('cidr', { type: 'string', validate: (s: string) => isCidr(s) });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  ajv.addFormat('idn-hostname', { type: 'string', validate: (s: string) => /^[^\s/]+$/.test(s) });
  return ajv;
}

export function hostPolicyCrdSchema(): Schema {
  const crd = parse(readFileSync(`${conformanceDir('kubearmor')}/crd__KubeArmorHostPolicy.crd.yaml`, 'utf8'));
  return crd.spec.versions[0].schema.openAPIV3Schema as Schema;
}

/** The KubeArmorHostPolicy CRD's openAPIV3Schema; `reject` adds Kubernetes strict field validation. */
export function hostPolicyCrdValidator(opts: { unknownFields: 'reject' | 'prune' }): ValidateFunction {
  const schema = hostPolicyCrdSchema();
  return newAjv().compile((opts.unknownFields === 'reject' ? rejectUnknownFields(schema) : schema) as Schema);
}

/** Cilium 1.18's JSON schema for CiliumClusterwideNetworkPolicy or CiliumNetworkPolicy. */
export function ciliumSchemaValidator(kind: 'CiliumClusterwideNetworkPolicy' | 'CiliumNetworkPolicy'): ValidateFunction {
  const file = kind === 'CiliumClusterwideNetworkPolicy' ? 'ciliumclusterwidenetworkpolicy_v2.schema.json' : 'ciliumnetworkpolicy_v2.schema.json';
  const schema = JSON.parse(readFileSync(`${conformanceDir('cilium')}/${file}`, 'utf8')) as Schema;
  return newAjv().compile(schema);
}
