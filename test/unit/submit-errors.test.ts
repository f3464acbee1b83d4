/**
 * What submit_ray_job says when a dashboard answers with a Python traceback: the exception line,
 * bounded and redacted, never the frames; a body the job agent refused as too large says the limit.
 * A small local HTTP server plays the dashboard (Ray's own answer shapes, from job_head.py).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { jobsActors } from '../../src/actors/jobs.actor.js';
import { Dashboards } from '../../src/clients/dashboard.client.js';
import { RayMcpError } from '../../src/domain/errors.js';
import { Redactor } from '../../src/domain/redact.js';
import { createLogger } from '../../src/logger.js';

const traceback = (line: string) =>
  [
    'Traceback (most recent call last):',
    '  File "/venv/ray/dashboard/modules/job/job_head.py", line 418, in submit_job',
    '    resp = await job_agent_client.submit_job_internal(submit_request)',
    '  File "/venv/ray/dashboard/modules/job/job_head.py", line 134, in _raise_error',
    '    raise RuntimeError(f"Request failed with status code {status}: {error_text}.")',
    line,
  ].join('\n');

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function submitAgainst(status: number, body: string, submit: Record<string, unknown> = {}) {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/api/authentication_mode') {
        res.writeHead(200).end('{"authentication_mode":"disabled"}');
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secrets = new Redactor();
  secrets.add('the-ray-token-0123456789');
  const dashboards = new Dashboards({ secrets });
  const { runJobCommand } = jobsActors({ dashboards, log: createLogger({ logLevel: 'silent' }) });
  const actor = createActor(runJobCommand, {
    input: {
      clusterId: 'c1',
      command: {
        type: 'jobs.submit',
        requestId: 'r1',
        dashboard: { url, owner: 'c1@1' },
        submit: { entrypoint: 'python x.py', ...submit },
      },
    },
  }).start();
  try {
    await toPromise(actor);
    throw new Error('submit should have failed');
  } catch (err) {
    await dashboards.close();
    return err as RayMcpError;
  }
}

describe('submit_ray_job against a dashboard that answers with a traceback', () => {
  it('a submission the job agent refused as too large says the 1 MiB limit and how to fix it', async () => {
    const err = await submitAgainst(
      500,
      traceback(
        'RuntimeError: Request failed with status code 413: Maximum request body size 1048576 exceeded, actual body size 2097410.',
      ),
    );
    expect(err).toBeInstanceOf(RayMcpError);
    expect(err.code).toBe('invalid_input');
    expect(err.message).toMatch(/1 MiB/);
    expect(err.fix).toMatch(/working_dir/);
    expect(err.message).not.toMatch(/Traceback|job_head\.py/);
  });

  it('any other traceback is its exception line, quoted, bounded, without the secrets it echoes', async () => {
    const err = await submitAgainst(
      500,
      traceback(
        `ValueError: bad thing; headers: {'X-Ray-Authorization': 'Bearer the-ray-token-0123456789'} ${'x'.repeat(5000)}`,
      ),
    );
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/«ValueError: bad thing/);
    expect(err.message).not.toMatch(/Traceback|job_head\.py|the-ray-token/);
    expect(err.message.length).toBeLessThan(500);
  });

  it('a 400 (Ray refused the job) is its exception line too', async () => {
    const err = await submitAgainst(400, traceback('TypeError: runtime_env must be a dict'));
    expect(err.code).toBe('invalid_input');
    expect(err.message).toBe('Ray refused the job: «TypeError: runtime_env must be a dict»');
  });

  it('a submission over 1 MiB is refused before Ray is asked', async () => {
    const err = await submitAgainst(200, '{}', { metadata: { a: 'x'.repeat(1_100_000) } });
    expect(err.code).toBe('invalid_input');
    expect(err.message).toMatch(/1 MiB/);
  });
});
