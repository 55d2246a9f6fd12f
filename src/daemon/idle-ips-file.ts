/**
 * The pool's idle IPs as a clean shutdown left them. Pod records say which IPs pods hold, but not
 * which idle IPs were the pool's own warm IPs; without this file a restarted daemon would treat
 * those as unclaimed and hold them back for the grace period, so every upgrade would churn the
 * warm pool. Written only on a clean stop and consumed by the next start, so it never describes
 * anything but the moment the daemon stopped; after a crash there is none and the grace applies.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const IDLE_IPS_FILE = 'idle-ips-at-shutdown.json';

export function saveIdleIps(stateDir: string, ips: readonly string[]): void {
  const path = join(stateDir, IDLE_IPS_FILE);
  const temp = `${path}.tmp`;
  writeFileSync(temp, JSON.stringify({ ips }), { mode: 0o600 });
  renameSync(temp, path);
}

/** Reads and removes the file; a missing or unreadable file means "nothing known". */
export function takeIdleIps(stateDir: string): Set<string> {
  const path = join(stateDir, IDLE_IPS_FILE);
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { ips?: unknown };
    return new Set(
      Array.isArray(parsed.ips) ? parsed.ips.filter((ip) => typeof ip === 'string') : [],
    );
  } catch {
    return new Set();
  } finally {
    rmSync(path, { force: true });
  }
}
