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
  /** Files per parser run (default 200). */
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

export async function compileAppArmorFiles(files: readonly string[], options: CompileOptions = {}): Promise<CompileResult[]> {
  const parser = options.parserPath ?? 'apparmor_parser';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const batchSize = Math.max(1, options.batchSize ?? 200);
  const jobs = String(Math.max(1, availableParallelism()));
  const results = new Map<string, CompileResult>();
  for (let i = 0; i < files.length; i += batchSize) {
    const batch = files.slice(i, i + batchSize);
    const run = await runTool(parser, [...baseArgs(options), '-j', jobs, '--', ...batch], timeoutMs * Math.max(1, Math.ceil(batch.length / 20)));
    if (run.code === 0) {
      for (const file of batch) results.set(file, { file, ok: true, message: 'ok' });
      continue;
    }
    for (const file of batch) {
      const one = await runTool(parser, [...baseArgs(options), '--', file], timeoutMs);
      results.set(file, { file, ok: one.code === 0, message: one.code === 0 ? 'ok' : runMessage(one) });
    }
  }
  return files.map((f) => results.get(f)!);
}
