import type { EniSlot } from './eni-slot.js';
import type { EniState, IpState } from './ip-state.js';
import type { PoolLimits } from './pool-limits.js';

export interface IpView {
  address: string;
  state: IpState;
  owner: string | undefined;
  isEniPrimary: boolean;
  sinceMs: number;
}

export interface EniView {
  id: string;
  mac: string;
  state: EniState | 'missing';
  primaryIp: string;
  vswitchId: string;
  vswitchCidr: string;
  gateway: string;
  pendingIps: number;
  ips: IpView[];
}

export interface PoolFiguresView {
  idle: number;
  inUse: number;
  creating: number;
  releasing: number;
  invalid: number;
  waiting: number;
  minPoolSize: number;
  maxPoolSize: number;
  limits: PoolLimits;
  lastError: string | undefined;
}

export interface PoolSnapshot {
  enis: EniView[];
  pool: PoolFiguresView;
}

export function eniView(slot: EniSlot, state: EniView['state']): EniView {
  const ips = [...slot.all()]
    .map((ip) => ({ ...ip }))
    .sort((a, b) => compareAddresses(a.address, b.address));
  return {
    id: slot.id,
    mac: slot.mac,
    state,
    primaryIp: slot.primaryIp,
    vswitchId: slot.vswitchId,
    vswitchCidr: slot.vswitchCidr,
    gateway: slot.gateway,
    pendingIps: slot.pendingIps,
    ips,
  };
}

function compareAddresses(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
