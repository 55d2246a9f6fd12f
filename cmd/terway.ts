// The CNI plugin binary that kubelet/containerd exec once per pod: one gRPC call to terwayd.
// Bundled to dist/bundle/terway.cjs; everything beyond parsing is loaded lazily by the verb.
import { finish, installCrashGuards, readStdin } from '../src/cni/process-io.js';
import { runShim } from '../src/cni/shim.js';

installCrashGuards();
void runShim({ env: process.env, readStdin }).then(finish);
