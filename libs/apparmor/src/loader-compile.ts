/**
 * Compile-only runs of apparmor_parser (`-Q -K`: no kernel, no cache), many files per run. When a
 * batch fails, each file is compiled alone so that every error is charged to the right file.
 */
import { availableParallelism } from 'node:os';
import { PINNED_FEATURES_FILE } from './features.js';
import { DEFAULT_TIMEOUT_MS, runMessage, runTool } from './loader-spawn.js';

export interface CompileOptions {
  parserPath?: string;
  /** Feature ABI for `-M`; default the pinned Debian 12 file. `null` = the parser's own choice. */
  featuresFile?: string | null;
  /** Per parser run. */
  timeoutMs?: number;
  /** Files per parser run (default 25). */
  batchSize?: number;
}

export interface CompileResult {
  file: string;
  ok: boolean;
  /** The parser's message when compiling failed. */
  message: string;
}

function baseArgs(options: CompileOptions): string[] {
  const features = options.featuresFile === undefined ? PINNED_FEATURES_FILE : options.featuresFile;
  return ['-Q', '-K', ...(features === null ? [] : ['-M', features])];
}

/**
 * Compiles `files` with up to one parser per CPU at a time, each over a chunk of files with
 * `-j 1` (the parser's own job control is slower than separate processes on a shared machine).
 */
export async function compileAppArmorFiles(files: readonly string[], options: CompileOptions = {}): Promise<CompileResult[]> {
  const parser = options.parserPath ?? 'apparmor_parser';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const batchSize = Math.max(1, options.batchSize ?? 25);
  const chunks: string[][] = [];
  for (let i = 0; i < files.length; i += batchSize) chunks.push(files.slice(i, i + batchSize));
  const results = new Map<string, CompileResult>();
  const compileChunk = async (chunk: string[]): Promise<void> => {
    const run = await runTool(parser, [...baseArgs(options), '-j', '1', '--', ...chunk], timeoutMs * chunk.length);
    if (run.code === 0) {
      for (const file of chunk) results.set(file, { file, ok: true, message: 'ok' });
      return;
    }
    for (const file of chunk) {
      const one = await runTool(parser, [...baseArgs(options), '--', file], timeoutMs);
      results.set(file, { file, ok: one.code === 0, message: one.code === 0 ? 'ok' : runMessage(one) });
    }
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks.length) await compileChunk(chunks[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(chunks.length, Math.max(1, availableParallelism())) }, worker));
  return files.map((f) => results.get(f)!);
}
