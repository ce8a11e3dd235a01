/**
 * The kernel feature ABI that compile-only runs pin with `apparmor_parser -M`: Debian 12's own
 * pinned set (`/usr/share/apparmor-features/features` from apparmor 3.0.8, which Debian's
 * parser.conf uses as `policy-features`), shipped in the repository so results do not depend on
 * the machine that compiles.
 */
import { fileURLToPath } from 'node:url';

export const PINNED_FEATURES_FILE: string = fileURLToPath(new URL('../features/debian12-kernel6.1', import.meta.url));
