/** The object calls commands share: get one, list all pages, apply, as typed promises. */
import { unary, type Token__Output } from '@kvmservice/api';
import { parseLabelSelector, type Resource, type ResourceKind } from '@kvmservice/resources';
import type { ServerSession } from './connection.js';
import { usageError } from './io.js';

export const DEFAULT_CHUNK_SIZE = 500;

/** Checks a `-l` selector before any call (usage error naming the bad term). */
export function checkSelector(selector: string | undefined): string {
  if (!selector) return '';
  const parsed = parseLabelSelector(selector);
  if ('error' in parsed) throw usageError(`-l ${JSON.stringify(selector)}: ${parsed.error}`);
  return selector;
}

export async function getObject(session: ServerSession, kind: ResourceKind, name: string): Promise<Resource> {
  const response = await session.call((c, t) => unary(c.get.bind(c), { kind: kind.kind, name }, t));
  return JSON.parse(response.object) as Resource;
}

/** Every object of a kind (all pages), and the store revision to watch from. */
export async function listObjects(session: ServerSession, kind: ResourceKind, selector = '', chunkSize = DEFAULT_CHUNK_SIZE): Promise<{ items: Resource[]; resourceVersion: string }> {
  const items: Resource[] = [];
  let continueToken = '';
  let resourceVersion = '';
  do {
    const page = await session.call((c, t) => unary(c.list.bind(c), { kind: kind.kind, labelSelector: selector, limit: chunkSize, continueToken }, t));
    items.push(...page.items.map((i) => JSON.parse(i) as Resource));
    continueToken = page.continueToken;
    // The first page's revision: later pages are read at the same revision.
    if (resourceVersion === '') resourceVersion = page.resourceVersion;
  } while (continueToken !== '');
  return { items, resourceVersion };
}

export async function listTokens(session: ServerSession): Promise<Token__Output[]> {
  const response = await session.call((c, t) => unary(c.listTokens.bind(c), {}, t));
  return [...response.tokens].sort((a, b) => Number(a.createdAt) - Number(b.createdAt) || (a.id < b.id ? -1 : 1));
}
