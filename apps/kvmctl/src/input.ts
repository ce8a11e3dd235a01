import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CliIo } from './io.js';
import { CliError } from './io.js';
import { Progress } from './output/progress.js';

export interface InputFile {
  /** The name errors use: the path as given (directory entries joined to it), or `-` for stdin. */
  source: string;
  text: string;
}

const MANIFEST = /\.(ya?ml|json)$/i;

function listDirectory(dir: string, shown: string, recursive: boolean): { path: string; shown: string }[] {
  const out: { path: string; shown: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    const name = join(shown, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...listDirectory(path, name, true));
    } else if (MANIFEST.test(entry.name)) {
      out.push({ path, shown: name });
    }
  }
  return out;
}

/**
 * Reads `-f` arguments as kubectl does: files, directories (their .yaml/.yml/.json files, in name
 * order; `-R` descends), and `-` for stdin. Relative paths are read from `io.cwd`. Any unreadable
 * path fails the whole command before anything is done. Many files show a progress line.
 */
export async function readInputs(paths: readonly string[], recursive: boolean, io: CliIo): Promise<InputFile[]> {
  if (paths.length === 0) throw new CliError('must specify -f FILE, -f DIRECTORY or -f -', 2);
  // Listed first (so a wrong path fails before stdin is read), then read in the order given.
  const files: { path: string; shown: string }[] = [];
  for (const given of paths) {
    if (given === '-') {
      files.push({ path: '-', shown: '-' });
      continue;
    }
    const path = resolve(io.cwd, given);
    try {
      if (statSync(path).isDirectory()) files.push(...listDirectory(path, given, recursive));
      else files.push({ path, shown: given });
    } catch (e) {
      throw new CliError(`${given}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  }
  const out: InputFile[] = [];
  const progress = new Progress(io);
  try {
    for (const [i, file] of files.entries()) {
      if (files.length > 1) progress.step('reading files', i + 1, files.length);
      if (file.path === '-') {
        out.push({ source: '-', text: await io.readStdin() });
        continue;
      }
      try {
        out.push({ source: file.shown, text: readFileSync(file.path, 'utf8') });
      } catch (e) {
        throw new CliError(`${file.shown}: ${(e as Error).message}`);
      }
    }
  } finally {
    progress.done();
  }
  return out;
}
