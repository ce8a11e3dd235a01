import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIo } from './io.js';
import { CliError } from './io.js';

export interface InputFile {
  /** The name errors use: the path as given, or `-` for stdin. */
  source: string;
  text: string;
}

const MANIFEST = /\.(ya?ml|json)$/i;

function listDirectory(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...listDirectory(path, true));
    } else if (MANIFEST.test(entry.name)) {
      out.push(path);
    }
  }
  return out;
}

/**
 * Reads `-f` arguments as kubectl does: files, directories (their .yaml/.yml/.json files; `-R`
 * descends), and `-` for stdin. Any unreadable path fails the whole command before anything is done.
 */
export async function readInputs(paths: readonly string[], recursive: boolean, io: CliIo): Promise<InputFile[]> {
  if (paths.length === 0) throw new CliError('must specify -f FILE, -f DIRECTORY or -f -', 2);
  const out: InputFile[] = [];
  for (const path of paths) {
    if (path === '-') {
      out.push({ source: '-', text: await io.readStdin() });
      continue;
    }
    let files: string[];
    try {
      files = statSync(path).isDirectory() ? listDirectory(path, recursive) : [path];
    } catch (e) {
      throw new CliError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    for (const file of files) {
      try {
        out.push({ source: file, text: readFileSync(file, 'utf8') });
      } catch (e) {
        throw new CliError(`${file}: ${(e as Error).message}`);
      }
    }
  }
  return out;
}
