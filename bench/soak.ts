/**
 * Soak over time: the compressed session of test/helpers/soak-session.ts (jobs coming and going on a
 * stand-in dashboard, clusters connected and stopped, subscriptions, failed Kubernetes connections),
 * sampling the server's RSS and live actor count after every cycle. BENCH_SOAK_CYCLES (default 100)
 * and BENCH_SOAK_JOBS (per cycle, default 20) size it. Writes bench/results/soak.json.
 */
import { openSoakServer, runSoak } from '../test/helpers/soak-session.js';

const CYCLES = Number(process.env.BENCH_SOAK_CYCLES ?? 100);
const JOBS = Number(process.env.BENCH_SOAK_JOBS ?? 20);

export async function run(): Promise<Record<string, unknown>> {
  const server = await openSoakServer();
  try {
    const samples = await runSoak(server, {
      cycles: CYCLES,
      jobsPerCycle: JOBS,
      onSample: (s) => {
        if (s.cycle % 10 === 0) process.stderr.write(`soak: ${JSON.stringify(s)}\n`);
      },
    });
    // Stopped clusters stay listed up to 10: from cycle 12 on the actor count is flat.
    const steady = samples.slice(Math.min(11, samples.length - 1));
    const first = steady[0]!;
    const last = samples.at(-1)!;
    return {
      cycles: CYCLES,
      jobs: last.jobs,
      seconds: last.seconds,
      actors: {
        steadyFrom: first.cycle,
        first: first.actors,
        last: last.actors,
        max: Math.max(...steady.map((s) => s.actors)),
      },
      rssMb: {
        steadyFrom: first.cycle,
        first: first.rssMb,
        last: last.rssMb,
        max: Math.max(...steady.map((s) => s.rssMb)),
      },
      samples,
    };
  } finally {
    await server.close();
  }
}
