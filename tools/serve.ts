/** A static file server for the browser tests: serves files under `root` as they are, nothing else. */
import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
};

export interface StaticServer {
  url: string;
  close: () => void;
}

export function serveStatic(root: string): Promise<StaticServer> {
  const server: Server = createServer(async (request, response) => {
    let path = resolve(root, '.' + decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    if (path !== root && !path.startsWith(root + '/')) return void response.writeHead(403).end();
    if (path === root) path = resolve(root, 'index.html');
    try {
      const body = await readFile(path);
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () =>
      done({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() }),
    ),
  );
}
