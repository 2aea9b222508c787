import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (ms) the PostgreSQL server on this machine has used so far: user + system of every
 * process named `postgres`, with the reaped children of each (a backend that exited is counted in
 * the postmaster's). From Linux's /proc/<pid>/stat (https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html:
 * utime, stime, cutime, cstime). Undefined where /proc cannot be read or no such process is
 * visible (PostgreSQL on another machine): the bench then prints no figure.
 */
export function postgresCpuMs(): number | undefined {
  let ticks = 0;
  let seen = false;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // ended since the listing
      }
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      // After "pid (comm) ": state is field 3, so utime (14) .. cstime (17) are at 11..14 here.
      const f = stat.slice(close + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      seen = true;
    }
  } catch {
    return undefined;
  }
  // USER_HZ: 100 on every Linux architecture Node runs on (sysconf(_SC_CLK_TCK)).
  return seen ? ticks * 10 : undefined;
}
