import type { InstanceLimits } from '../cloud/provider.js';
import type { PoolOptions } from './ip-state.js';

export interface PoolLimits {
  instanceType: string;
  /** Secondary ENIs this pool may hold (the primary ENI never serves pods). */
  maxEnis: number;
  ipsPerEni: number;
  capacity: number;
}

/** Terway's rule: EniQuantity × eni_cap_ratio + eni_cap_shift − 1, capped by max_eni. */
export function computePoolLimits(
  instance: InstanceLimits,
  options: Pick<PoolOptions, 'eniCapRatio' | 'eniCapShift' | 'maxEni'>,
): PoolLimits {
  const byType = Math.floor(instance.eniQuantity * options.eniCapRatio) + options.eniCapShift - 1;
  const capped = options.maxEni === undefined ? byType : Math.min(byType, options.maxEni);
  const maxEnis = Math.max(0, capped);
  return {
    instanceType: instance.instanceType,
    maxEnis,
    ipsPerEni: instance.ipsPerEni,
    capacity: maxEnis * instance.ipsPerEni,
  };
}
