/**
 * A TCP listener's address as an operator writes it: `host:port`, `[ipv6]:port`, or `:port` for
 * every address; port 0 lets the kernel pick. Every listener the project opens (terwayd's
 * metrics, the ECS emulator, the embedded emulator) reads its address here, so one that is
 * accepted in one place is accepted in all, and a refusal says the same thing everywhere.
 */
import { TerwayError } from '../errors/terway-error.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export const LISTEN_ADDRESS_FORMS = 'host:port, [ipv6]:port, or :port for every address';

/** What `:port` listens on. */
const EVERY_ADDRESS = '0.0.0.0';

/** The address, or why `text` is not one. */
export function readListenAddress(text: string): ListenAddress | { readonly refused: string } {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { refused: 'no port' };
  const written = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) {
    return { refused: 'the port is not 0-65535' };
  }
  const bracketed = written.startsWith('[') && written.endsWith(']');
  const host = bracketed ? written.slice(1, -1) : written;
  if (/[\s/@[\]]/.test(host)) return { refused: 'the host is not an address or name' };
  if (!bracketed && host.includes(':')) return { refused: 'an IPv6 host goes in brackets' };
  return { host: host === '' ? EVERY_ADDRESS : host, port: Number(portText) };
}

/** The address; INVALID_CONFIG naming `what` (the flag or key) and the reason otherwise. */
export function parseListenAddress(text: string, what: string): ListenAddress {
  const read = readListenAddress(text);
  if ('refused' in read) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `${what} ${JSON.stringify(text)}: ${read.refused} (give ${LISTEN_ADDRESS_FORMS})`,
    );
  }
  return read;
}

/** `host:port`, the host in brackets when it is IPv6: what parseListenAddress reads back. */
export function formatListenAddress(address: ListenAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
