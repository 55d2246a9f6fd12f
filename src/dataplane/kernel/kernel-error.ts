import { TerwayError } from '../../errors/terway-error.js';
import type { KernelOp } from './kernel-ops.js';

/** A kernel change that failed, with the op and what the kernel (via iproute2) said. */
export class KernelError extends TerwayError {
  constructor(
    message: string,
    readonly op: KernelOp | undefined,
    readonly detail: string,
  ) {
    super('KERNEL_ERROR', detail === '' ? message : `${message}: ${detail}`, { retryable: true });
    this.name = 'KernelError';
  }
}
