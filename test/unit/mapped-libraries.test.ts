import { describe, expect, test } from '@jest/globals';

import { mappedLibraries } from '../../src/dataplane/native/addon-loader.js';

const MAPS = [
  '00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/node',
  '7f2c1000-7f2c2000 r--p 00000000 08:02 2049        /usr/lib/x86_64-linux-gnu/libbpf.so.1.1.0',
  '7f2c2000-7f2c9000 r-xp 00001000 08:02 2049        /usr/lib/x86_64-linux-gnu/libbpf.so.1.1.0',
  '7f2d0000-7f2d1000 r--p 00000000 08:02 3001        /opt/with space/libbpf.so.1 (deleted)',
  '7f2e0000-7f2e1000 r--p 00000000 08:02 3002        /usr/lib/x86_64-linux-gnu/libelf.so.1',
  '7f2f0000-7f2f1000 r--p 00000000 08:02 3003        /srv/libbpf.so.dir/other.so',
  '7ffd0000-7ffd1000 rw-p 00000000 00:00 0           [stack]',
  '7f300000-7f301000 rw-p 00000000 00:00 0 ',
  '',
].join('\n');

describe('mappedLibraries', () => {
  test('names each matching file once, by its base name, sorted; a replaced one by its path', () => {
    expect(mappedLibraries(/^libbpf\.so/, MAPS)).toEqual([
      '/opt/with space/libbpf.so.1',
      '/usr/lib/x86_64-linux-gnu/libbpf.so.1.1.0',
    ]);
  });

  test('anonymous mappings, pseudo-files and other libraries are not libraries of that name', () => {
    expect(mappedLibraries(/^libelf\.so/, MAPS)).toEqual(['/usr/lib/x86_64-linux-gnu/libelf.so.1']);
    expect(mappedLibraries(/stack/, MAPS)).toEqual([]);
    expect(mappedLibraries(/^libz\.so/, MAPS)).toEqual([]);
  });
});
