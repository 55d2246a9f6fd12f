/**
 * The kernel changes a datapath driver asks for, as data. Drivers build lists of these; the
 * iproute2 kernel turns each into one `ip -batch` line, and the in-memory kernel applies them to
 * its model, so a driver's plan can be tested without root.
 */
import type { NetnsRef } from './netns-ref.js';
import { netnsArgument } from './netns-ref.js';

export type KernelOp =
  | {
      op: 'veth-add';
      name: string;
      mac: string;
      peer: string;
      peerMac: string;
      /** Created straight in this namespace, so the peer never exists under its final name here. */
      peerNetns: NetnsRef;
      mtu: number;
    }
  | {
      op: 'ipvlan-add';
      name: string;
      parent: string;
      mtu: number;
      /** Node-wide links made once: finding one already there is success. */
      existOk?: boolean;
    }
  | { op: 'link-netns'; name: string; netns: NetnsRef }
  | { op: 'link-rename'; name: string; to: string }
  | { op: 'link-up'; name: string; mtu?: number; noarp?: boolean }
  | { op: 'link-del'; name: string }
  | { op: 'addr-replace'; dev: string; cidr: string; scope?: 'host' | 'link' }
  | {
      op: 'route-replace';
      dst: string;
      dev: string;
      via?: string;
      onlink?: boolean;
      scope?: 'link';
      table?: number;
    }
  | { op: 'route-del'; dst: string; dev?: string; table?: number }
  | { op: 'rule-add'; priority: number; from?: string; to?: string; table: number | 'main' }
  | { op: 'rule-del'; priority: number; from?: string; to?: string }
  | { op: 'neigh-replace'; dev: string; ip: string; mac: string };

/** What iproute2 prints when the thing to remove is already gone. */
const ALREADY_GONE =
  /Cannot find device|No such process|No such file or directory|does not exist|Cannot find|No such device/;
const ALREADY_THERE = /File exists/;
/** Ops whose "already gone" error is success: teardown must be idempotent. */
export function isRemoval(op: KernelOp): boolean {
  return op.op === 'link-del' || op.op === 'route-del' || op.op === 'rule-del';
}

function tableArgs(table: number | 'main' | undefined): string[] {
  return table === undefined ? [] : ['table', String(table)];
}

function selectorArgs(op: { from?: string; to?: string }): string[] {
  return [
    ...(op.from === undefined ? [] : ['from', op.from]),
    ...(op.to === undefined ? [] : ['to', op.to]),
  ];
}

/** One `ip -batch` line (without the leading `ip`). */
export function toIpBatchLine(op: KernelOp): string {
  const words = ((): string[] => {
    switch (op.op) {
      case 'veth-add':
        return [
          'link',
          'add',
          op.name,
          'address',
          op.mac,
          'mtu',
          String(op.mtu),
          'type',
          'veth',
          'peer',
          'name',
          op.peer,
          'address',
          op.peerMac,
          'mtu',
          String(op.mtu),
          'netns',
          netnsArgument(op.peerNetns),
        ];
      case 'ipvlan-add':
        return [
          'link',
          'add',
          op.name,
          'link',
          op.parent,
          'mtu',
          String(op.mtu),
          'type',
          'ipvlan',
          'mode',
          'l2',
        ];
      case 'link-netns':
        return ['link', 'set', 'dev', op.name, 'netns', netnsArgument(op.netns)];
      case 'link-rename':
        return ['link', 'set', 'dev', op.name, 'name', op.to];
      case 'link-up':
        return [
          'link',
          'set',
          'dev',
          op.name,
          ...(op.mtu === undefined ? [] : ['mtu', String(op.mtu)]),
          ...(op.noarp === true ? ['arp', 'off'] : []),
          'up',
        ];
      case 'link-del':
        return ['link', 'del', 'dev', op.name];
      case 'addr-replace':
        return [
          'addr',
          'replace',
          op.cidr,
          'dev',
          op.dev,
          ...(op.scope === undefined ? [] : ['scope', op.scope]),
        ];
      case 'route-replace':
        return [
          'route',
          'replace',
          op.dst,
          ...(op.via === undefined ? [] : ['via', op.via]),
          'dev',
          op.dev,
          ...(op.onlink === true ? ['onlink'] : []),
          ...(op.scope === undefined ? [] : ['scope', op.scope]),
          ...tableArgs(op.table),
        ];
      case 'route-del':
        return [
          'route',
          'del',
          op.dst,
          ...(op.dev === undefined ? [] : ['dev', op.dev]),
          ...tableArgs(op.table),
        ];
      case 'rule-add':
        return [
          'rule',
          'add',
          'priority',
          String(op.priority),
          ...selectorArgs(op),
          ...tableArgs(op.table),
        ];
      case 'rule-del':
        return ['rule', 'del', 'priority', String(op.priority), ...selectorArgs(op)];
      case 'neigh-replace':
        return ['neigh', 'replace', op.ip, 'lladdr', op.mac, 'dev', op.dev, 'nud', 'permanent'];
    }
  })();
  for (const word of words) {
    // ip -batch splits on whitespace and treats '#' as a comment; a name carrying either could
    // turn one op into another, so it is refused rather than quoted.
    if (word === '' || /[\s#"'\\]/.test(word)) {
      throw new Error(`refusing to pass ${JSON.stringify(word)} to ip -batch`);
    }
  }
  return words.join(' ');
}

/** A failure that still leaves the kernel as the op wanted it. */
export function isHarmless(op: KernelOp, message: string): boolean {
  if (isRemoval(op)) return ALREADY_GONE.test(message);
  if (op.op === 'ipvlan-add' && op.existOk === true) return ALREADY_THERE.test(message);
  return op.op === 'rule-add' && ALREADY_THERE.test(message);
}
