/**
 * The probe behind the environment machine. Every part runs in parallel with a short timeout,
 * so a check answers within a few seconds whatever is missing; nothing here throws for a
 * missing part, it reports it with a one-line fix.
 */
import { dirname, join } from 'node:path';
import { fromPromise } from 'xstate';
import { detectAwsCredentials, detectGcpCredentials } from '../clients/cloud-credentials.js';
import { findOnPath, isExecutable } from '../clients/executables.js';
import { readKubeconfigs } from '../clients/kubeconfig.client.js';
import {
  parseRayVersion,
  rayInstallFix,
  rayVersionNextTo,
  resolveRayCli,
} from '../clients/ray-cli.client.js';
import type { Config } from '../config.js';
import type { EnvironmentReport } from '../domain/environment.js';
import { RayMcpError } from '../domain/errors.js';
import type { ProcessRegistry } from './processes.js';

const PROBE_TIMEOUT_MS = 5000;
const MAX_CONTEXTS = 50;

export interface EnvironmentDeps {
  config: Config;
  processes: ProcessRegistry;
}

export function probeEnvironmentLogic(deps: EnvironmentDeps) {
  return fromPromise<EnvironmentReport>(({ signal }) => probeEnvironment(deps, signal));
}

export async function probeEnvironment(
  deps: EnvironmentDeps,
  signal: AbortSignal,
): Promise<EnvironmentReport> {
  const { config, processes } = deps;
  const run = (file: string, args: string[]) =>
    processes.probe(file, args, { timeoutMs: PROBE_TIMEOUT_MS, signal });

  const ray = async () => {
    const tokenSource = config.rayAuth.tokenSource;
    const auth = { mode: config.rayAuth.mode, tokenPresent: tokenSource !== undefined, tokenSource };
    let cli: Awaited<ReturnType<typeof resolveRayCli>>;
    try {
      cli = await resolveRayCli(config);
    } catch (err) {
      const fix = err instanceof RayMcpError ? err.fix : rayInstallFix();
      return { found: false, fix, auth };
    }
    // A venv's metadata answers at once; only a Ray found elsewhere is asked (a Python start).
    const known = cli.source === 'venv' ? await rayVersionNextTo(cli.path) : undefined;
    if (known) return { found: true, version: known, path: cli.path, source: cli.source, auth };
    const res = await run(cli.path, ['--version']);
    const version = parseRayVersion(res.stdout);
    if (!res.ok || !version) {
      return {
        found: false,
        path: cli.path,
        source: cli.source,
        auth,
        fix: `'${cli.path} --version' failed (${res.timedOut ? 'timed out' : `exit ${res.exitCode}`}): ${rayInstallFix()}`,
      };
    }
    return { found: true, version, path: cli.path, source: cli.source, auth };
  };

  const python = async () => {
    // The Python that matters is the one Ray runs on: next to the Ray CLI, else python3 on PATH.
    let candidate: string | undefined;
    try {
      const cli = await resolveRayCli(config);
      const sibling = join(dirname(cli.path), 'python');
      if (await isExecutable(sibling)) candidate = sibling;
    } catch {}
    candidate ??= await findOnPath('python3', config.path);
    if (!candidate) {
      return {
        found: false,
        fix: 'Install Python 3.10-3.12 (python3 on PATH), then run `ray-mcp setup` (in a checkout: npm run setup).',
      };
    }
    const res = await run(candidate, ['--version']);
    const version = /Python\s+(\S+)/.exec(`${res.stdout} ${res.stderr}`)?.[1];
    return version
      ? { found: true, version, path: candidate }
      : {
          found: false,
          path: candidate,
          fix: `'${candidate} --version' failed; reinstall Python 3.10-3.12.`,
        };
  };

  const kubernetes = async () => {
    const kubectlPath = await findOnPath('kubectl', config.path);
    let kubectl: { found: boolean; version?: string; path?: string; fix?: string } = {
      found: false,
      fix: 'Optional: install kubectl (https://kubernetes.io/docs/tasks/tools/) to use kubectl alongside ray-mcp.',
    };
    if (kubectlPath) {
      const res = await run(kubectlPath, ['version', '--client', '-o', 'json']);
      const version = res.ok
        ? (safeJson(res.stdout) as { clientVersion?: { gitVersion?: string } } | undefined)?.clientVersion
            ?.gitVersion
        : undefined;
      kubectl = { found: true, path: kubectlPath, version };
    }
    const kube = await readKubeconfigs(config.kubeconfigPaths, config.inCluster);
    const broken = kube.files.find((f) => f.error);
    const fix = broken
      ? `Fix or remove ${broken.path}: ${broken.error}`
      : kube.contexts.length === 0
        ? 'No kubeconfig context: set KUBECONFIG to a kubeconfig file (default ~/.kube/config).'
        : !kube.currentContext
          ? 'No current context: run kubectl config use-context NAME.'
          : undefined;
    return {
      kubectl,
      kubeconfigs: kube.files.map(({ path, exists }) => ({ path, exists })),
      currentContext: kube.currentContext,
      contexts: kube.contexts.slice(0, MAX_CONTEXTS),
      contextsTruncated: kube.contexts.length > MAX_CONTEXTS ? true : undefined,
      fix,
    };
  };

  const cloud = async () => {
    const [gcp, aws, gcloudPath] = await Promise.all([
      detectGcpCredentials(config.gcp),
      detectAwsCredentials(config.aws),
      findOnPath('gcloud', config.path),
    ]);
    return {
      gcp: {
        credentials: gcp.credentials,
        credentialType: gcp.credentialType,
        project: gcp.project,
        gcloud: gcloudPath
          ? { found: true, path: gcloudPath }
          : {
              found: false,
              fix: 'Optional: install the gcloud CLI to create application default credentials.',
            },
        fix:
          gcp.error ??
          (gcp.credentials === 'none'
            ? 'For GKE: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file.'
            : undefined),
      },
      aws: {
        credentials: aws.credentials,
        profiles: aws.profiles,
        profile: aws.profile,
        region: aws.region,
        fix:
          aws.credentials === 'none'
            ? 'For EKS: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or configure a profile with `aws configure` (and AWS_PROFILE).'
            : !aws.region
              ? 'For EKS: set AWS_REGION (or a region in your AWS profile).'
              : undefined,
      },
    };
  };

  const [rayPart, pythonPart, kubePart, cloudPart] = await Promise.all([
    ray(),
    python(),
    kubernetes(),
    cloud(),
  ]);
  const node = { found: true, version: process.version, path: process.execPath };
  const fixes = [
    pythonPart.fix && `python: ${pythonPart.fix}`,
    rayPart.fix && `ray: ${rayPart.fix}`,
    kubePart.fix && `kubernetes: ${kubePart.fix}`,
    cloudPart.gcp.fix && `gcp: ${cloudPart.gcp.fix}`,
    cloudPart.aws.fix && `aws: ${cloudPart.aws.fix}`,
  ].filter((f): f is string => Boolean(f));

  return {
    checkedAt: new Date().toISOString(),
    ready: {
      localRay: rayPart.found,
      kubernetes: Boolean(kubePart.currentContext),
      gcp: cloudPart.gcp.credentials !== 'none',
      aws: cloudPart.aws.credentials !== 'none' && Boolean(cloudPart.aws.region),
    },
    node,
    python: pythonPart,
    ray: rayPart,
    kubernetes: kubePart,
    cloud: cloudPart,
    fixes,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
