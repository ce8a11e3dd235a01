/**
 * An initramfs built from the files of this (Debian) machine, laid out as on the machine: every
 * path is copied with its chain of symlinks (`/bin` → `usr/bin`, `/lib64/ld-linux…` → …), so a
 * program runs from the same resolved path as on a real host — AppArmor mediates and reports
 * resolved paths. Programs come with the libraries `ldd` lists. Written as an uncompressed newc
 * cpio (under TCG the kernel unpacks it faster than it would inflate a compressed one).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, lstatSync, mkdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

export class InitramfsTree {
  constructor(readonly stage: string) {
    mkdirSync(stage, { recursive: true });
  }

  private at(path: string): string {
    return join(this.stage, path);
  }

  dir(path: string, mode = 0o755): this {
    mkdirSync(this.at(path), { recursive: true, mode });
    chmodSync(this.at(path), mode);
    return this;
  }

  text(path: string, content: string | Buffer, mode = 0o644): this {
    mkdirSync(dirname(this.at(path)), { recursive: true });
    writeFileSync(this.at(path), content, { mode });
    chmodSync(this.at(path), mode);
    return this;
  }

  /** Copies a host file under another name (e.g. a second copy of a program with its own profile). */
  copyAs(hostFile: string, path: string, mode?: number): this {
    mkdirSync(dirname(this.at(path)), { recursive: true });
    copyFileSync(hostFile, this.at(path));
    chmodSync(this.at(path), mode ?? statSync(hostFile).mode & 0o7777);
    return this;
  }

  /** A hard link: another path to the same file, which AppArmor sees as a different program. */
  hardLink(existing: string, path: string): this {
    mkdirSync(dirname(this.at(path)), { recursive: true });
    linkSync(this.at(existing), this.at(path));
    return this;
  }

  /**
   * Copies a host path as the host has it: symlinks along the way are recreated as symlinks and
   * followed; the final file is copied (a final directory is created empty, or copied whole with
   * `withContents`). Returns the resolved path (where the file really is).
   */
  hostPath(path: string, withContents = false, depth = 0): string {
    if (depth > 40) throw new Error(`too many symlinks resolving ${path}`);
    const parts = posix.normalize(path).split('/').filter((p) => p !== '');
    let current = '/';
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(current, parts[i]!);
      const st = lstatSync(next);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(next);
        if (!existsSync(this.at(next)) && !isLink(this.at(next))) {
          mkdirSync(dirname(this.at(next)), { recursive: true });
          symlinkSync(target, this.at(next));
        }
        return this.hostPath(posix.join(posix.resolve(current, target), ...parts.slice(i + 1)), withContents, depth + 1);
      }
      if (i < parts.length - 1) {
        if (!st.isDirectory()) throw new Error(`${next} is not a directory (resolving ${path})`);
        if (!existsSync(this.at(next))) this.dir(next, st.mode & 0o7777);
      } else if (st.isDirectory()) {
        if (!existsSync(this.at(next))) this.dir(next, st.mode & 0o7777);
        if (withContents) cpSync(next, this.at(next), { recursive: true, verbatimSymlinks: true, force: false, errorOnExist: false });
      } else if (!existsSync(this.at(next))) {
        copyFileSync(next, this.at(next));
        chmodSync(this.at(next), st.mode & 0o7777);
      }
      current = next;
    }
    return current;
  }

  /** A program and every library `ldd` lists for it. Returns the program's resolved path. */
  program(path: string): string {
    const resolved = this.hostPath(path);
    for (const lib of sharedLibraries(resolved)) this.hostPath(lib);
    return resolved;
  }

  /** Writes the tree as an uncompressed newc cpio owned by root. */
  build(outFile: string): void {
    const r = spawnSync('sh', ['-c', `find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 > "$0"`, outFile], {
      cwd: this.stage,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr || r.error}`);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Absolute paths of the shared objects a dynamically linked program needs (none for static ones). */
export function sharedLibraries(program: string): string[] {
  const r = spawnSync('ldd', [program], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    if (/not a dynamic executable/.test(`${r.stdout}${r.stderr}`)) return [];
    throw new Error(`ldd ${program} failed: ${r.stderr}`);
  }
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (/not found/.test(line)) throw new Error(`ldd ${program}: ${line.trim()}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}
