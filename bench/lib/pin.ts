/**
 * CPU pinning. On a small machine the kernel's wake-affine scheduling tends to run a woken
 * client on the core of the server that just wrote to it, so server and load generator take
 * turns on one core while the other idles. Pinning the server under test to CPU 0 and every
 * generator process (workers, publisher, this orchestrator) to the others keeps them apart —
 * the same for every peer. `--pin=false` turns it off.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface PinPlan {
  server: string;
  generator: string;
}

let plan: PinPlan | null = null;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Decide the plan (null: fewer than 2 CPUs, no `taskset`, or turned off) and pin this process. */
export function setupPinning(enabled: boolean): PinPlan | null {
  const n = os.availableParallelism();
  if (!enabled || n < 2 || !hasTaskset()) return (plan = null);
  plan = { server: '0', generator: n === 2 ? '1' : `1-${n - 1}` };
  pin(process.pid, plan.generator);
  return plan;
}

export function pinPlan(): PinPlan | null {
  return plan;
}

/** Set the CPUs of every thread of a running process. */
export function pin(pid: number, cpus: string): void {
  if (pid <= 0) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

export function pinGenerator(pid: number): void {
  if (plan) pin(pid, plan.generator);
}

/** Prefix for a shell `exec` that starts the server under test on its CPU. */
export function serverExecPrefix(): string {
  return plan ? `taskset -c ${plan.server} ` : '';
}
