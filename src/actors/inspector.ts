/**
 * Streams the live actor system to the Stately inspector (@statelyai/inspect).
 * `--inspect ws://host:port` sends to a bridge you run; `--inspect` alone starts our own bridge,
 * bound to 127.0.0.1 (the library's createInspectorServer listens on every interface and opens a
 * browser through a shell), and logs the page to open. Loaded only when asked for.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InspectionEvent, Observer } from 'xstate';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

export interface Inspection {
  inspect: Observer<InspectionEvent>;
  /** The page to open in a browser, when we run the bridge. */
  pageUrl?: string;
  stop(): Promise<void>;
}

const STATELY_INSPECTOR_UI = 'https://stately.ai/inspect';

export async function startInspection(
  config: Pick<Config, 'inspect' | 'inspectPort'>,
  log: Logger,
): Promise<Inspection | undefined> {
  if (config.inspect === false) return undefined;
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  let bridge: Awaited<ReturnType<typeof startBridge>> | undefined;
  let url: string;
  if (typeof config.inspect === 'string') {
    url = config.inspect;
  } else {
    bridge = await startBridge(config.inspectPort);
    url = `ws://127.0.0.1:${bridge.port}`;
    log.info({ page: bridge.pageUrl }, `Stately inspector: open ${bridge.pageUrl} in a browser`);
  }
  const inspector = createWebSocketInspector({
    url,
    // Contexts can hold large reports; the inspector needs the shape, not every byte.
    serializationDepthLimit: 6,
  });
  log.info({ url }, 'streaming actor inspection events');
  return {
    inspect: inspector.inspect,
    pageUrl: bridge?.pageUrl,
    async stop() {
      inspector.stop();
      await bridge?.stop();
    },
  };
}

async function startBridge(port: number) {
  const { WebSocket, WebSocketServer } = await import('ws');
  const page = (wsPort: number) => `<!DOCTYPE html><html><head><title>ray-mcp · Stately inspector</title>
<style>html,body,iframe{margin:0;width:100%;height:100%;border:0}</style></head><body>
<iframe id="i" src="${STATELY_INSPECTOR_UI}"></iframe><script>
const f=document.getElementById('i'),buf=[];let ready=false;
addEventListener('message',e=>{if(e.data&&e.data.type==='@statelyai.connected'){ready=true;buf.splice(0).forEach(m=>f.contentWindow.postMessage(m,'*'))}});
const ws=new WebSocket('ws://127.0.0.1:${wsPort}');
ws.onmessage=e=>{const m=JSON.parse(e.data);ready?f.contentWindow.postMessage(m,'*'):buf.push(m)};
</script></body></html>`;
  const http = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page((http.address() as AddressInfo).port));
  });
  const wss = new WebSocketServer({ server: http });
  const history: string[] = [];
  wss.on('connection', (ws) => {
    for (const msg of history) ws.send(msg);
    ws.on('message', (data) => {
      const msg = data.toString();
      history.push(msg);
      if (history.length > 500) history.shift();
      for (const client of wss.clients) {
        if (client !== ws && client.readyState === WebSocket.OPEN) client.send(msg);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (http.address() as AddressInfo).port;
  return {
    port: actual,
    pageUrl: `http://127.0.0.1:${actual}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}
