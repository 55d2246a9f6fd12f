// A tiny TCP echo for the lab tests, run inside a namespace with `ip netns exec <ns> node`.
//   server <ip> <port>             prints "listening" once bound; answers every line it receives
//                                  with one JSON line {"from": <peer address>, "echo": <line>}
//   client <ip> <port> <message>   sends one line, prints the answer line, exits 0; exits 1 on
//                                  any error or after 3 s without an answer
// Plain JavaScript so node runs it directly; every global it uses is imported.
import { Buffer } from 'node:buffer';
import { createConnection, createServer } from 'node:net';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

const [mode, host, portText, message] = process.argv.slice(2);
const port = Number.parseInt(portText ?? '', 10);

function fail(text) {
  process.stderr.write(`tcp-echo ${mode}: ${text}\n`);
  process.exit(1);
}

if (host === undefined || !Number.isInteger(port)) fail('usage: server|client <ip> <port> [msg]');

if (mode === 'server') {
  const server = createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('utf8');
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        socket.write(`${JSON.stringify({ from: socket.remoteAddress, echo: line })}\n`);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.on('error', (error) => fail(error.message));
  server.listen(port, host, () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else if (mode === 'client') {
  if (message === undefined || message.includes('\n')) fail('client needs a one-line message');
  const timer = setTimeout(() => fail('no answer within 3 s'), 3_000);
  const socket = createConnection({ host, port });
  let answer = Buffer.alloc(0);
  socket.on('connect', () => socket.write(`${message}\n`));
  socket.on('data', (chunk) => {
    answer = Buffer.concat([answer, chunk]);
    const text = answer.toString('utf8');
    if (text.includes('\n')) {
      clearTimeout(timer);
      process.stdout.write(text);
      socket.end();
      process.exit(0);
    }
  });
  socket.on('error', (error) => fail(error.message));
} else {
  fail(`unknown mode ${JSON.stringify(mode)}`);
}
