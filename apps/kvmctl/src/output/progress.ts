/**
 * A one-line progress indication on stderr for long operations (reading many files, applying
 * many objects). Drawn only when stderr is a terminal, so pipes and logs never see it; the line
 * is erased when the operation ends, leaving only the real output.
 */
import type { CliIo } from '../io.js';

const ERASE = '\r\x1b[K';

export class Progress {
  private shown = false;
  private lastDraw = 0;

  constructor(
    private readonly io: CliIo,
    private readonly enabled = io.stderrIsTTY === true && !io.env.KVMCTL_NO_PROGRESS,
    private readonly minIntervalMs = 100,
  ) {}

  /** Shows `text`, at most every minIntervalMs unless `force` (first and last steps). */
  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && this.shown && now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    this.shown = true;
    this.io.stderr(`${ERASE}${text}`);
  }

  /** `label 37/120` */
  step(label: string, done: number, total: number): void {
    this.update(`${label} ${done}/${total}`, done === total || done === 1);
  }

  /** Erases the line. */
  done(): void {
    if (this.shown) this.io.stderr(ERASE);
    this.shown = false;
  }
}
