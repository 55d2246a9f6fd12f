/**
 * One reading of a listener's address for every listener: terwayd's --metrics-address, the ECS
 * emulator's --listen (and its config file's host and port), and eni_conf's emulator.listen
 * accept and refuse the same inputs.
 */
import { describe, expect, test } from '@jest/globals';

import { parseConfig } from '../../src/config/load-config.js';
import { buildSetup } from '../../src/emulator/cli-config.js';
import {
  formatListenAddress,
  parseListenAddress,
  type ListenAddress,
} from '../../src/util/listen-address.js';

const ACCEPTED: Array<[string, ListenAddress]> = [
  ['127.0.0.1:9430', { host: '127.0.0.1', port: 9430 }],
  [':9430', { host: '0.0.0.0', port: 9430 }],
  ['[::1]:0', { host: '::1', port: 0 }],
  ['[fd00::7]:18080', { host: 'fd00::7', port: 18080 }],
  ['node-a.example:65535', { host: 'node-a.example', port: 65535 }],
];

const REFUSED: Array<[string, string]> = [
  ['9430', 'no port'],
  ['localhost', 'no port'],
  ['127.0.0.1:', 'not 0-65535'],
  ['127.0.0.1:65536', 'not 0-65535'],
  ['127.0.0.1:http', 'not 0-65535'],
  ['127.0.0.1:-1', 'not 0-65535'],
  ['::1:9430', 'in brackets'],
  ['http://x:9430', 'not an address'],
  ['a b:1', 'not an address'],
  ['[::1:9430', 'not an address'],
];

describe('listen addresses', () => {
  test.each(ACCEPTED)('%s is %j, read back the same', (text, address) => {
    expect(parseListenAddress(text, '--x')).toEqual(address);
    expect(parseListenAddress(formatListenAddress(address), '--x')).toEqual(address);
  });

  test.each(REFUSED)('%s is refused: %s, naming the flag', (text, why) => {
    expect(() => parseListenAddress(text, '--metrics-address')).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringMatching(
          new RegExp(
            `^--metrics-address "${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": .*${why}`,
          ),
        ),
      }),
    );
  });

  test.each(ACCEPTED)('%s: the emulator and eni_conf take it too', (text, address) => {
    expect(buildSetup({ listen: text }).options).toMatchObject(address);
    expect(parseConfig({ emulator: { listen: text } }).emulator.listen).toBe(text);
  });

  test.each(REFUSED)('%s: the emulator and eni_conf refuse it too (%s)', (text, why) => {
    expect(() => buildSetup({ listen: text })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(why) }),
    );
    expect(() => parseConfig({ emulator: { listen: text } })).toThrow(why);
  });

  test("the emulator's config file may name an IPv6 host: it is bracketed before it is read", () => {
    expect(buildSetup({}, { host: '::1', port: 18080 }).options).toMatchObject({
      host: '::1',
      port: 18080,
    });
  });
});
