import { describe, expect, test } from '@jest/globals';

import type { InformerFigures } from '../../src/observe/source-metrics.js';
import { informerProblem, servicesFileProblem } from '../../src/observe/source-problem.js';

describe("the Service source's problem, as terway-cli show services prints it", () => {
  test('the services file: why its content is not in effect, read at each call', () => {
    let error: string | undefined = 'document 2 of 2: kind Deployment (apps/v1)';
    const source = { currentError: () => error };
    expect(servicesFileProblem(source)).toBe(
      'services file not applied, the last good state stays programmed: ' +
        'document 2 of 2: kind Deployment (apps/v1)',
    );
    error = undefined;
    expect(servicesFileProblem(source)).toBeUndefined();
  });

  test('the informers: each failing one with its reason; none failing is no problem', () => {
    const informer = (resource: string, failing: boolean, lastError?: string): InformerFigures => ({
      resource,
      listed: true,
      lists: 1,
      restarts: failing ? 1 : 0,
      failing,
      lastError,
    });
    const informers = [
      informer('services', true, 'connect ECONNREFUSED 127.0.0.1:6443'),
      informer('endpointslices', true),
    ];
    const source = { status: () => ({ informers }) };
    expect(informerProblem(source)).toBe(
      'services informer failing, retrying with backoff: connect ECONNREFUSED 127.0.0.1:6443; ' +
        'endpointslices informer failing, retrying with backoff: no reason recorded',
    );
    // A failure that is over (a list or an event came through) is no longer a problem, even
    // though its message is kept.
    informers[0] = informer('services', false, 'connect ECONNREFUSED 127.0.0.1:6443');
    informers[1] = informer('endpointslices', false);
    expect(informerProblem(source)).toBeUndefined();
  });
});
