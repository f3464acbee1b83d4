/**
 * The credential files this server may use, read once at start only to learn which values must
 * never be shown: Google credential files (private keys, client secrets, refresh tokens), the AWS
 * shared credentials file, and the users of every kubeconfig (tokens, passwords, client keys).
 * Values go to a SecretSink (the app's Redactor) and nowhere else. A file that is missing or
 * unreadable is skipped: the code that uses it reports that.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { SecretSink } from '../domain/redact.js';

const MAX_FILE_BYTES = 4 * 1024 * 1024;

async function readSmall(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    const text = await readFile(path, 'utf8');
    return text.length <= MAX_FILE_BYTES ? text : undefined;
  } catch {
    return undefined;
  }
}

export async function registerSecretSources(
  config: Pick<Config, 'gcp' | 'aws' | 'kubeconfigPaths' | 'secrets'> & Partial<Pick<Config, 'inCluster'>>,
  sink: SecretSink,
): Promise<void> {
  sink.add(...config.secrets);
  await Promise.all([
    googleFile(config.gcp.credentialsFile, sink),
    googleFile(join(config.gcp.gcloudConfigDir, 'application_default_credentials.json'), sink),
    awsFile(config.aws.sharedCredentialsFile, sink),
    ...config.kubeconfigPaths.map((p) => kubeconfigFile(p, sink)),
    // The pod's ServiceAccount token (each rotated one is added when first sent).
    readSmall(config.inCluster && join(config.inCluster.serviceAccountDir, 'token')).then((t) =>
      sink.add(t?.trim()),
    ),
  ]);
}

async function googleFile(path: string | undefined, sink: SecretSink): Promise<void> {
  const text = await readSmall(path);
  if (!text) return;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    for (const key of ['private_key', 'private_key_id', 'client_secret', 'refresh_token', 'access_token']) {
      if (typeof json[key] === 'string') sink.add(json[key] as string);
    }
  } catch {}
}

async function awsFile(path: string, sink: SecretSink): Promise<void> {
  const text = await readSmall(path);
  if (!text) return;
  for (const line of text.split(/\r?\n/)) {
    const m =
      /^\s*(aws_secret_access_key|aws_session_token|aws_security_token|aws_access_key_id)\s*=\s*(.+?)\s*$/i.exec(
        line,
      );
    if (m) sink.add(m[2]);
  }
}

async function kubeconfigFile(path: string, sink: SecretSink): Promise<void> {
  const text = await readSmall(path);
  if (!text) return;
  let doc: unknown;
  try {
    const { load } = await import('js-yaml');
    doc = load(text);
  } catch {
    return;
  }
  const users = (doc as { users?: unknown })?.users;
  if (!Array.isArray(users)) return;
  for (const entry of users) {
    const user = (entry as { user?: Record<string, unknown> })?.user;
    if (!user || typeof user !== 'object') continue;
    const str = (k: string) => (typeof user[k] === 'string' ? (user[k] as string) : undefined);
    sink.add(str('token'), str('password'));
    const keyData = str('client-key-data');
    if (keyData) sink.add(keyData, Buffer.from(keyData, 'base64').toString('utf8'));
    sink.add(await readSmall(str('client-key')), await readSmall(str('tokenFile')));
    const provider = user['auth-provider'] as { config?: Record<string, unknown> } | undefined;
    for (const [k, v] of Object.entries(provider?.config ?? {}))
      if (typeof v === 'string' && /token|secret/i.test(k)) sink.add(v);
  }
}
