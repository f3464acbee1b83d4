import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  analyzeFailure,
  type FailureAnalysis,
  type FailureCause,
  type FailureInput,
  lastTraceback,
} from '../../src/domain/failure-analysis.js';

// ---------------------------------------------------------------------------------------------
// Log tails as Ray and Python write them (Python 3.11 tracebacks, with their ~~^^ markers).

const SITE = '/home/ray/anaconda3/lib/python3.11/site-packages';
const PKG = '/tmp/ray/session_2025-01-07_10-00-00_123456_1/runtime_resources/working_dir_files/_ray_pkg_0a1b';

const DRIVER_TRACEBACK = `2025-01-07 10:00:03,512\tINFO worker.py:1841 -- Connected to Ray cluster. View the dashboard at 127.0.0.1:8265
loading dataset from /data/train.parquet
Traceback (most recent call last):
  File "${PKG}/train.py", line 41, in <module>
    main()
  File "${PKG}/train.py", line 37, in main
    model = build(cfg)
            ^^^^^^^^^^
  File "${PKG}/model.py", line 12, in build
    width = cfg["width"] * 2
            ~~~^^^^^^^^^
KeyError: 'width'
`;

const FAILED: Omit<FailureInput, 'logTail'> = {
  status: 'FAILED',
  message: 'Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):',
};

const CAUSES: FailureCause[] = [
  'oom_killed',
  'task_failed',
  'actor_died',
  'runtime_env_setup_failed',
  'missing_module',
  'python_exception',
  'nonzero_exit',
  'stopped',
  'unknown',
];

function expectSuggestion(a: FailureAnalysis) {
  expect(typeof a.suggestion).toBe('string');
  expect(a.suggestion.trim().length).toBeGreaterThan(0);
}

function analyze(input: Partial<FailureInput> & { logTail: string }) {
  const a = analyzeFailure({ ...FAILED, ...input });
  expectSuggestion(a);
  return a;
}

describe('analyzeFailure: python_exception', () => {
  it('reports the exception and the innermost frame with its code line', () => {
    const a = analyze({ logTail: DRIVER_TRACEBACK });
    expect(a.cause).toBe('python_exception');
    expect(a.exception).toEqual({ type: 'KeyError', message: "'width'" });
    expect(a.innermost_frame).toEqual({
      file: `${PKG}/model.py`,
      line: 12,
      function: 'build',
      code: 'width = cfg["width"] * 2',
    });
    expect(a.exit_code).toBe(1);
  });

  it('reads an exception without a message', () => {
    const tail = `Traceback (most recent call last):
  File "/home/me/job/check.py", line 3, in <module>
    assert len(rows) > 0
           ^^^^^^^^^^^^^
AssertionError
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('python_exception');
    expect(a.exception).toEqual({ type: 'AssertionError', message: '' });
    expect(a.innermost_frame).toMatchObject({
      file: '/home/me/job/check.py',
      line: 3,
      function: '<module>',
      code: 'assert len(rows) > 0',
    });
  });

  it('reads a dotted exception type and a message with colons', () => {
    const tail = `Traceback (most recent call last):
  File "/home/me/job/fetch.py", line 9, in <module>
    r.raise_for_status()
  File "${SITE}/requests/models.py", line 1024, in raise_for_status
    raise HTTPError(http_error_msg, response=self)
requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://example.com/x
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('python_exception');
    expect(a.exception).toEqual({
      type: 'requests.exceptions.HTTPError',
      message: '503 Server Error: Service Unavailable for url: https://example.com/x',
    });
    expect(a.innermost_frame).toEqual({
      file: `${SITE}/requests/models.py`,
      line: 1024,
      function: 'raise_for_status',
      code: 'raise HTTPError(http_error_msg, response=self)',
    });
  });

  it('takes the LAST traceback of a chain ("During handling of the above exception")', () => {
    const tail = `Traceback (most recent call last):
  File "/home/me/job/load.py", line 5, in read_config
    return json.load(f)
  File "/usr/lib/python3.11/json/__init__.py", line 293, in load
    return loads(fp.read(),
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/home/me/job/load.py", line 14, in <module>
    cfg = read_config_or_fail()
  File "/home/me/job/load.py", line 9, in read_config_or_fail
    raise RuntimeError("config.json is not JSON")
RuntimeError: config.json is not JSON
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('python_exception');
    expect(a.exception).toEqual({ type: 'RuntimeError', message: 'config.json is not JSON' });
    expect(a.innermost_frame).toEqual({
      file: '/home/me/job/load.py',
      line: 9,
      function: 'read_config_or_fail',
      code: 'raise RuntimeError("config.json is not JSON")',
    });
  });

  it('takes the last traceback of a "direct cause" chain too', () => {
    const tail = `${DRIVER_TRACEBACK}
The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "${PKG}/train.py", line 45, in <module>
    raise ValueError("bad config") from e
ValueError: bad config
`;
    const a = analyze({ logTail: tail });
    expect(a.exception).toEqual({ type: 'ValueError', message: 'bad config' });
    expect(a.innermost_frame).toMatchObject({ file: `${PKG}/train.py`, line: 45, function: '<module>' });
  });

  // A driver with CRLF line ends (Windows) keeps its frames.
  it('handles CRLF line ends', () => {
    const a = analyze({ logTail: DRIVER_TRACEBACK.replaceAll('\n', '\r\n') });
    expect(a.cause).toBe('python_exception');
    expect(a.exception).toEqual({ type: 'KeyError', message: "'width'" });
    expect(a.innermost_frame).toMatchObject({ line: 12, function: 'build' });
  });

  it('lastTraceback: undefined without a traceback or when the tail ends before the exception', () => {
    expect(lastTraceback('all good\nbye\n')).toBeUndefined();
    expect(
      lastTraceback(`Traceback (most recent call last):\n  File "/x.py", line 1, in <module>\n    f()\n`),
    ).toBeUndefined();
  });
});

describe('analyzeFailure: Ray causes', () => {
  it('missing_module: ModuleNotFoundError names the module', () => {
    const tail = `Traceback (most recent call last):
  File "${PKG}/train.py", line 2, in <module>
    import torch
ModuleNotFoundError: No module named 'torch'
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('missing_module');
    expect(a.missing_module).toBe('torch');
    expect(a.exception).toEqual({ type: 'ModuleNotFoundError', message: "No module named 'torch'" });
    expect(a.innermost_frame).toMatchObject({ line: 2, code: 'import torch' });
  });

  it('missing_module: an ImportError of a submodule inside a Ray task', () => {
    const tail = `ray.exceptions.RayTaskError(ModuleNotFoundError): ray::preprocess() (pid=5120, ip=10.0.0.5)
  File "${PKG}/prep.py", line 4, in preprocess
    import sklearn.preprocessing
ModuleNotFoundError: No module named 'sklearn.preprocessing'
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('missing_module');
    expect(a.missing_module).toBe('sklearn.preprocessing');
  });

  it('oom_killed: ray.exceptions.OutOfMemoryError', () => {
    const tail = `Traceback (most recent call last):
  File "${PKG}/train.py", line 20, in <module>
    ray.get(refs)
  File "${SITE}/ray/_private/worker.py", line 2753, in get
    values, debugger_breakpoint = worker.get_objects(object_refs, timeout=timeout)
  File "${SITE}/ray/_private/worker.py", line 906, in get_objects
    raise value
ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.
Memory on the node (IP: 10.0.0.5, ID: 4c7e0c) where the task (task ID: 9e2a, name=load_shard, pid=6012, memory used=3.10GB) was running was 7.45GB / 7.77GB (0.958862), which exceeds the memory usage threshold of 0.95. Ray killed this worker (ID: 6a1f) because it was the task with the most recent submission time.
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('oom_killed');
    expect(a.exception?.type).toBe('ray.exceptions.OutOfMemoryError');
  });

  it('oom_killed: "Task was killed due to the node running low on memory" without a traceback', () => {
    const tail = `(raylet) [2025-01-07 10:01:00,000 E 311 311] (raylet) node_manager.cc:3069: 1 Workers (tasks / actors) killed due to memory pressure (OOM)
Task was killed due to the node running low on memory.
`;
    const a = analyze({ logTail: tail, message: undefined });
    expect(a.cause).toBe('oom_killed');
  });

  it('actor_died: ActorDiedError', () => {
    const tail = `Traceback (most recent call last):
  File "${PKG}/serve.py", line 30, in <module>
    ray.get(trainer.step.remote())
  File "${SITE}/ray/_private/worker.py", line 906, in get_objects
    raise value
ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.
\tclass_name: Trainer
\tactor_id: 6f1f0c1b9a0e6ad8374aec0101000000
\tpid: 5123
\tnamespace: 0f9d9c1e
\tip: 10.0.0.5
The actor is dead because it was killed by \`ray.kill\`.
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('actor_died');
    expect(a.exception).toEqual({
      type: 'ray.exceptions.ActorDiedError',
      message: 'The actor died unexpectedly before finishing this task.',
    });
  });

  // Ray lists "killed by SIGKILL by OOM killer" among the *possible* causes of every lost worker:
  // that alone is not an OOM kill.
  it('actor_died: a connection-error death is not reported as an OOM kill', () => {
    const tail = `ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.
\tclass_name: Trainer
\tactor_id: 6f1f0c1b9a0e6ad8374aec0101000000
The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of file. There are some potential root causes. (1) The process is killed by SIGKILL by OOM killer due to high memory usage. (2) ray stop --force is called. (3) The worker is crashed unexpectedly due to SIGSEGV or other unexpected errors.
`;
    expect(analyze({ logTail: tail }).cause).toBe('actor_died');
  });

  it('task_failed: RayTaskError, with the frame inside the task as the innermost one', () => {
    const tail = `Traceback (most recent call last):
  File "${PKG}/main.py", line 12, in <module>
    print(ray.get(work.remote(0)))
          ^^^^^^^^^^^^^^^^^^^^^^^
  File "${SITE}/ray/_private/auto_init_hook.py", line 21, in auto_init_wrapper
    return fn(*args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^
  File "${SITE}/ray/_private/worker.py", line 906, in get_objects
    raise value.as_instanceof_cause()
ray.exceptions.RayTaskError(ZeroDivisionError): ray::work() (pid=4242, ip=10.0.0.5)
  File "${PKG}/main.py", line 7, in work
    return 1 / x
           ~~^~~
ZeroDivisionError: division by zero
`;
    const a = analyze({ logTail: tail });
    expect(a.cause).toBe('task_failed');
    expect(a.exception).toEqual({ type: 'ZeroDivisionError', message: 'division by zero' });
    expect(a.innermost_frame).toEqual({
      file: `${PKG}/main.py`,
      line: 7,
      function: 'work',
      code: 'return 1 / x',
    });
  });

  it('runtime_env_setup_failed: from the error type alone', () => {
    const a = analyze({
      status: 'FAILED',
      message: 'Job failed due to an application error, last available logs: ...',
      errorType: 'RUNTIME_ENV_SETUP_FAILED',
      logTail: `ERROR: Could not find a version that satisfies the requirement torchh==9.9 (from versions: none)
ERROR: No matching distribution found for torchh==9.9
`,
    });
    expect(a.cause).toBe('runtime_env_setup_failed');
  });

  it('runtime_env_setup_failed: from RuntimeEnvSetupError in the message', () => {
    const a = analyze({
      status: 'FAILED',
      message: 'ray.exceptions.RuntimeEnvSetupError: Failed to set up runtime environment.',
      logTail: '',
    });
    expect(a.cause).toBe('runtime_env_setup_failed');
  });

  it('nonzero_exit: exit code from the message when there is no traceback', () => {
    const a = analyze({
      message: 'Job entrypoint command failed with exit code 3',
      logTail: 'starting\nsanity check failed: 0 rows\n',
    });
    expect(a.cause).toBe('nonzero_exit');
    expect(a.exit_code).toBe(3);
    expect(a.exception).toBeUndefined();
    expect(a.innermost_frame).toBeUndefined();
  });

  it('nonzero_exit: the driver exit code given wins over the message', () => {
    const a = analyze({ message: 'whatever', exitCode: 137, logTail: 'Killed\n' });
    expect(a.cause).toBe('nonzero_exit');
    expect(a.exit_code).toBe(137);
  });

  it('stopped: status STOPPED wins, even over a traceback', () => {
    const a = analyze({
      status: 'STOPPED',
      message: 'Job was intentionally stopped.',
      logTail: `${DRIVER_TRACEBACK}KeyboardInterrupt\n`,
    });
    expect(a.cause).toBe('stopped');
  });

  it('unknown: nothing recognisable', () => {
    const a = analyze({ message: 'Unexpected error occurred.', logTail: 'epoch 1 done\nepoch 2 done\n' });
    expect(a.cause).toBe('unknown');
    expect(a.exit_code).toBeUndefined();
    const empty = analyze({ status: 'FAILED', message: undefined, logTail: '' });
    expect(empty.cause).toBe('unknown');
  });

  it('an exit code of 0 is not a non-zero exit', () => {
    const a = analyze({ message: 'exited with code 0', logTail: '' });
    expect(a.cause).toBe('unknown');
    expect(a.exit_code).toBe(0);
  });
});

describe('analyzeFailure: property', () => {
  const fragments = fc.constantFrom(
    'Traceback (most recent call last):',
    '  File "/x/y.py", line 12, in f',
    '    return g()',
    '           ^^^',
    'ValueError: nope',
    'KeyboardInterrupt',
    'ray.exceptions.RayTaskError(KeyError): ray::f()',
    "ModuleNotFoundError: No module named 'x'",
    'During handling of the above exception, another exception occurred:',
    'Job entrypoint command failed with exit code 2',
    '',
  );
  const logTail = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.array(fc.oneof(fragments, fc.string({ maxLength: 40 })), { maxLength: 30 }).map((l) => l.join('\n')),
  );

  it('never throws and always returns a known cause with a suggestion', () => {
    fc.assert(
      fc.property(
        logTail,
        fc.oneof(fc.constantFrom('FAILED', 'STOPPED', 'SUCCEEDED', 'RUNNING', 'PENDING'), fc.string()),
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.oneof(fc.constant('RUNTIME_ENV_SETUP_FAILED'), fc.string()), { nil: undefined }),
        fc.option(fc.integer({ min: -255, max: 255 }), { nil: undefined }),
        (tail, status, message, errorType, exitCode) => {
          const a = analyzeFailure({ status, message, errorType, exitCode, logTail: tail });
          expect(CAUSES).toContain(a.cause);
          expectSuggestion(a);
          if (a.innermost_frame) expect(Number.isInteger(a.innermost_frame.line)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Ray's state API record of the job (failed tasks, dead actors), joined with the log.

describe("analyzeFailure with Ray's record", () => {
  const actor = (death_cause: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    actor_id: 'a1',
    class_name: 'Worker',
    state: 'DEAD',
    job_id: '02000000',
    pid: 4242,
    death_cause,
    ...extra,
  });
  const failedJob = { status: 'FAILED', message: 'Job entrypoint command failed with exit code 1' };

  it("names a dead actor's death cause and makes the cause actor_died", () => {
    const f = analyzeFailure({
      ...failedJob,
      logTail: 'something went wrong\n',
      ray: {
        tasks: [],
        actors: [
          actor({
            actor_died_error_context: {
              reason: 'WORKER_DIED',
              error_message:
                'The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: ...',
            },
          }),
        ],
      },
    });
    expect(f.cause).toBe('actor_died');
    expect(f.dead_actors).toEqual([
      expect.objectContaining({ class_name: 'Worker', pid: 4242, death_cause: 'WORKER_DIED (SYSTEM_ERROR)' }),
    ]);
    expect(f.ray_record).toMatch(
      /^actor Worker \(pid 4242\) died: WORKER_DIED \(SYSTEM_ERROR\) — The actor is dead/,
    );
  });

  it('leaves out deaths that follow from the driver ending, and driver tasks', () => {
    const f = analyzeFailure({
      ...failedJob,
      logTail: '',
      ray: {
        tasks: [{ task_id: 't0', name: 'driver', state: 'FAILED', job_id: '02000000', type: 'DRIVER_TASK' }],
        actors: [actor({ actor_died_error_context: { reason: 'OWNER_DIED', error_message: 'owner died' } })],
      },
    });
    expect(f.dead_actors).toBeUndefined();
    expect(f.failed_tasks).toBeUndefined();
    expect(f.cause).toBe('nonzero_exit');
  });

  it("keeps the log's traceback and adds the failed task's error type", () => {
    const f = analyzeFailure({
      ...failedJob,
      logTail:
        'Traceback (most recent call last):\n  File "job.py", line 9, in <module>\n    ray.get(boom.remote())\n' +
        'ray.exceptions.RayTaskError(ValueError): ray::boom() (pid=1, ip=127.0.0.1)\n',
      ray: {
        tasks: [
          {
            task_id: 't1',
            name: 'boom',
            state: 'FAILED',
            job_id: '02000000',
            type: 'NORMAL_TASK',
            error_type: 'TASK_EXECUTION_EXCEPTION',
            error_message:
              'ray::boom() (pid=1, ip=127.0.0.1)\n  File "job.py", line 5, in boom\nValueError: bad input token=abc123',
          },
        ],
        actors: [],
      },
    });
    expect(f.cause).toBe('task_failed');
    expect(f.failed_tasks).toEqual([
      {
        name: 'boom',
        error_type: 'TASK_EXECUTION_EXCEPTION',
        error: 'ValueError: bad input token=[redacted]',
        task_id: 't1',
      },
    ]);
  });

  it('turns an OOM kill by the memory monitor into oom_killed, in either field spelling', () => {
    for (const death_cause of [
      { oom_context: { error_message: 'Task was killed due to the node running low on memory.' } },
      {
        actorDiedErrorContext: {
          reason: 'WORKER_DIED',
          errorMessage:
            'The actor is dead because its worker process has died. Worker exit type: NODE_OUT_OF_MEMORY',
        },
      },
    ]) {
      const f = analyzeFailure({
        ...failedJob,
        logTail: '',
        ray: { tasks: [], actors: [actor(death_cause)] },
      });
      expect(f.cause).toBe('oom_killed');
      expect(f.dead_actors?.[0]?.death_cause).toBe('OUT_OF_MEMORY');
    }
  });

  it('bounds what it shows: three entries, short untrusted text without control characters', () => {
    const long = `\u001b[31m${'x'.repeat(5000)}\u0007`;
    const f = analyzeFailure({
      ...failedJob,
      logTail: '',
      ray: {
        tasks: [],
        actors: Array.from({ length: 10 }, (_, i) =>
          actor(
            { actor_died_error_context: { reason: 'RAY_KILL', error_message: long } },
            { actor_id: `a${i}` },
          ),
        ),
      },
    });
    expect(f.dead_actors).toHaveLength(3);
    for (const a of f.dead_actors!) {
      expect(a.message!.length).toBeLessThanOrEqual(401);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: checking they are gone
      expect(a.message).not.toMatch(/[\u0000-\u001f]/);
    }
  });
});
