/**
 * One local stack per data directory: a lock file holding the owner's PID.
 * dynalite's LevelDB would refuse a second opener with a raw stack trace, and
 * two pollers on one table would break the index repair's assumption that
 * nobody else writes; a PID that is no longer alive (after `kill -9`) does
 * not hold the lock.
 */
import { DataDirInUseError } from "../../../lib/domain/errors";
export { DataDirInUseError };
import { openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed process nobody has reaped yet (a zombie) still answers kill(pid, 0).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (macOS): trust kill(pid, 0)
  }
}

/** Take the lock of `dir` for this process, or throw {@link DataDirInUseError}. Returns the release function. */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, "taskwatch.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let pid = Number.NaN;
    try {
      pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    } catch {
      // vanished meanwhile: try again
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new DataDirInUseError(dir, pid);
    // Left by a process that died: take it over.
    rmSync(path, { force: true });
  }
  throw new Error(`cannot take the lock ${path}`);
}
