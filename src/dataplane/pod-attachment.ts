/**
 * What the datapath needs to wire one pod, and the names it derives from the pod. Names are a
 * pure function of the pod, so a DEL or a GC after a crash finds what an ADD made without any
 * extra record.
 */
import { createHash } from 'node:crypto';

import type { NetnsRef } from './kernel/netns-ref.js';

export const DRIVER_NAMES = ['ipvlan', 'veth'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** An ENI's link on the node. */
export interface EniLink {
  name: string;
  ifindex: number;
  mac: string;
  mtu: number;
}

/** One pod's attachment to one ENI IP. */
export interface PodAttachment {
  /** namespace/name */
  podKey: string;
  containerId: string;
  netns: NetnsRef;
  ifname: string;
  ip: string;
  /** The vSwitch prefix length. */
  prefixLength: number;
  gateway: string;
  eni: EniLink;
  /** The node's primary IP: ipvlan pods reach it through the host-side ipvl link. */
  nodeIp: string;
}

/** What a teardown knows: possibly no ENI (it may be gone), but always the pod and its IP. */
export type PodTeardown = Pick<PodAttachment, 'podKey' | 'containerId' | 'netns' | 'ifname' | 'ip'>;

export interface PodInterface {
  name: string;
  mac: string;
  /** Set for the interface inside the pod: its netns path. */
  sandbox?: string;
}

export interface PodInterfaces {
  driver: DriverName;
  /** The pod's address and next hop as configured inside it (a veth pod sees /32 via 169.254.1.1). */
  prefixLength: number;
  gateway: string;
  /** The node-side interface (host veth, or the ENI's ipvl link). */
  host: PodInterface;
  pod: PodInterface;
}

/** Linux interface names are at most 15 bytes. */
export const MAX_IFNAME_LENGTH = 15;

function digest(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** The node end of a pod's veth: stable per pod, like Terway's hashed names. */
export function hostVethName(podKey: string): string {
  return `twv${digest(podKey).slice(0, 11)}`;
}

/** An ipvlan slave's name on the node before it moves into the pod (per sandbox). */
export function tempLinkName(containerId: string): string {
  return `twt${digest(containerId).slice(0, 11)}`;
}

/** The host-side ipvlan slave of an ENI, as Terway names it. */
export function ipvlanHostLinkName(eni: Pick<EniLink, 'ifindex'>): string {
  return `ipvl_${eni.ifindex}`;
}

/** Locally administered unicast MAC from a seed: stable, so CHECK can compare it. */
export function derivedMac(seed: string): string {
  const bytes = digest(seed).slice(0, 10).match(/../g) ?? [];
  return ['02', ...bytes].join(':');
}

/** Terway's per-ENI routing table in veth mode. */
export function eniRouteTable(eni: Pick<EniLink, 'ifindex'>): number {
  return 1000 + eni.ifindex;
}
