/**
 * Writes a managed cluster's context into a kubeconfig file, only when the user asks: merged by
 * name (other entries and fields kept), with an exec entry that mints tokens on demand
 * (gke-gcloud-auth-plugin, `aws eks get-token`), never a static token. The previous file is kept
 * as `<file>.ray-mcp.bak`; the new one replaces it atomically, readable by the owner only.
 */
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RayMcpError } from '../domain/errors.js';
import type { CloudKubeTarget } from '../domain/kube.js';

type Named = { name: string; [k: string]: unknown };

export interface KubeconfigWriteOptions {
  path: string;
  /** EKS: the account (for the ARN context name) and the profile the exec entry uses. */
  account?: string;
  profile?: string;
}

/** The context name the cloud's own CLI would write. */
export function contextNameOf(target: CloudKubeTarget, account?: string): string {
  return target.provider === 'gke'
    ? `gke_${target.project}_${target.location}_${target.cluster}`
    : `arn:aws:eks:${target.location}:${account ?? '000000000000'}:cluster/${target.cluster}`;
}

export function execUserOf(target: CloudKubeTarget, profile?: string): Record<string, unknown> {
  if (target.provider === 'gke') {
    return {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'gke-gcloud-auth-plugin',
        installHint: 'Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin',
        provideClusterInfo: true,
        interactiveMode: 'IfAvailable',
      },
    };
  }
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: 'aws',
      args: [
        '--region',
        target.location,
        'eks',
        'get-token',
        '--cluster-name',
        target.cluster,
        '--output',
        'json',
      ],
      ...(profile && { env: [{ name: 'AWS_PROFILE', value: profile }] }),
      interactiveMode: 'IfAvailable',
    },
  };
}

export async function writeKubeconfigContext(
  target: CloudKubeTarget,
  opts: KubeconfigWriteOptions,
): Promise<{ path: string; context: string; backup?: string }> {
  const yaml = await import('js-yaml');
  const name = contextNameOf(target, opts.account);
  let text: string | undefined;
  try {
    text = await readFile(opts.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannot(opts.path, err);
  }
  let doc: Record<string, unknown> = {};
  if (text?.trim()) {
    try {
      const parsed = yaml.load(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        doc = parsed as Record<string, unknown>;
      else throw new Error('not a mapping');
    } catch (err) {
      throw new RayMcpError(
        'invalid_input',
        `${opts.path} is not a kubeconfig ray-mcp can merge into (${err instanceof Error ? err.message : String(err)}).`,
        'Fix the file, or point KUBECONFIG at another one.',
      );
    }
  }
  const upsert = (key: string, entry: Named) => {
    const list = Array.isArray(doc[key]) ? (doc[key] as Named[]).filter((e) => e?.name !== entry.name) : [];
    doc[key] = [...list, entry];
  };
  doc.apiVersion ??= 'v1';
  doc.kind ??= 'Config';
  upsert('clusters', {
    name,
    cluster: { server: target.server, 'certificate-authority-data': target.caData },
  });
  upsert('users', { name, user: execUserOf(target, opts.profile) });
  upsert('contexts', { name, context: { cluster: name, user: name } });
  if (!doc['current-context']) doc['current-context'] = name;

  let backup: string | undefined;
  try {
    await mkdir(dirname(opts.path), { recursive: true });
    if (text !== undefined) {
      backup = `${opts.path}.ray-mcp.bak`;
      await copyFile(opts.path, backup);
    }
    const tmp = `${opts.path}.ray-mcp.tmp-${process.pid}`;
    await writeFile(tmp, yaml.dump(doc, { lineWidth: -1, noRefs: true }), { mode: 0o600 });
    await rename(tmp, opts.path);
  } catch (err) {
    throw cannot(opts.path, err);
  }
  return { path: opts.path, context: name, backup };
}

function cannot(path: string, err: unknown): RayMcpError {
  return new RayMcpError(
    'unavailable',
    `Cannot write the kubeconfig ${path}: ${err instanceof Error ? err.message : String(err)}.`,
    'Check the file permissions, or point KUBECONFIG at another file.',
  );
}
