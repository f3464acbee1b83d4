/**
 * A FAKE fault injector in front of moto, for tests only: moto does not model EKS quotas, so
 * this proxy forwards every request to moto unchanged except a CreateCluster for a cluster named
 * `quota-*`, which it answers the way EKS refuses a create over the account's limit
 * (400, ResourceLimitExceededException). Nothing else is changed or modelled.
 */
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class AwsFaultProxy {
  private server?: Server;

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    this.server = createServer(async (req, res) => {
      const body = await read(req);
      if (req.method === 'POST' && req.url === '/clusters' && /"name":\s*"quota-/.test(body)) {
        res.writeHead(400, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceLimitExceededException',
        });
        res.end(
          JSON.stringify({
            message: 'Cluster limit exceeded for account 123456789012 in region: the limit is 100 clusters.',
            clusterName: 'quota',
          }),
        );
        return;
      }
      const url = new URL(req.url ?? '/', this.target);
      const fwd = request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      fwd.end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      data += c;
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
